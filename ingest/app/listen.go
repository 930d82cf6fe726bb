package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"

	"golang.org/x/net/netutil"
	"golang.org/x/sync/errgroup"

	"github.com/ponte-city/ponte/ingest/config"
)

// httpServers are the public and the ops listeners with their servers.
type httpServers struct {
	public, ops     *http.Server
	publicLn, opsLn net.Listener
	// endRequests ends the context of every request, so that long-lived
	// SSE streams end at shutdown instead of holding it to its deadline.
	endRequests context.CancelFunc
}

// listen opens the public listener (mux; TLS when configured, at most
// http.max_connections at once) and the ops listener (ops), both with
// the configured timeouts and header cap, and records their addresses.
func listen(cfg *config.Config, mux, ops http.Handler, addrs *Addrs) (*httpServers, error) {
	h := cfg.HTTP
	tlsCfg, err := cfg.HTTPTLSConfig()
	if err != nil {
		return nil, fmt.Errorf("ingest: http.tls: %w", err)
	}
	reqCtx, endRequests := context.WithCancel(context.Background())
	server := func(handler http.Handler) *http.Server {
		s := &http.Server{Handler: handler,
			ReadHeaderTimeout: h.ReadHeaderTimeout.D(), ReadTimeout: h.ReadTimeout.D(),
			WriteTimeout: h.WriteTimeout.D(), IdleTimeout: h.IdleTimeout.D(), MaxHeaderBytes: h.MaxHeaderBytes,
			BaseContext: func(net.Listener) context.Context { return reqCtx }}
		s.RegisterOnShutdown(endRequests)
		return s
	}
	s := &httpServers{public: server(mux), ops: server(ops), endRequests: endRequests}
	if s.publicLn, err = net.Listen("tcp", h.Listen); err != nil {
		endRequests()
		return nil, fmt.Errorf("ingest: listen on http.listen %s: %w", h.Listen, err)
	}
	if s.opsLn, err = net.Listen("tcp", h.OpsListen); err != nil {
		s.publicLn.Close()
		endRequests()
		return nil, fmt.Errorf("ingest: listen on http.ops_listen %s: %w", h.OpsListen, err)
	}
	addrs.HTTP, addrs.Ops = s.publicLn.Addr().String(), s.opsLn.Addr().String()
	s.publicLn = netutil.LimitListener(s.publicLn, h.MaxConnections)
	if tlsCfg != nil {
		s.public.TLSConfig = tlsCfg
		s.publicLn = tls.NewListener(s.publicLn, tlsCfg)
	}
	return s, nil
}

// run serves both listeners in g and shuts them down when ctx ends.
func (s *httpServers) run(ctx context.Context, g *errgroup.Group, closeCtx func() (context.Context, context.CancelFunc)) {
	for _, p := range []struct {
		name string
		srv  *http.Server
		ln   net.Listener
	}{{"http", s.public, s.publicLn}, {"ops", s.ops, s.opsLn}} {
		g.Go(func() error {
			if err := p.srv.Serve(p.ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("ingest: %s: %w", p.name, err)
			}
			return nil
		})
		g.Go(func() error {
			<-ctx.Done()
			c, cancel := closeCtx()
			defer cancel()
			return p.srv.Shutdown(c)
		})
	}
}

// close ends every request context (after Run's errgroup returned, or if
// it never started, the listeners too).
func (s *httpServers) close() {
	s.endRequests()
	s.publicLn.Close()
	s.opsLn.Close()
}
