package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/ponte-city/ponte/ingest/broker"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/ingest/influx"
	"github.com/ponte-city/ponte/ingest/influxsink"
	"github.com/ponte-city/ponte/ingest/intake"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/twin"
)

// Options are what a caller may set beyond the configuration file.
type Options struct {
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Registry receives every metric (default a new registry with the Go
	// and process collectors).
	Registry *prometheus.Registry
	// Sink replaces the InfluxDB sink (tests, benchmarks).
	Sink service.Sink
	// Applier receives newly written readings (the twin; optional).
	Applier service.Applier
	// Started, if set, is called once everything listens.
	Started func(Addrs)
}

// Addrs are the addresses Run listens on.
type Addrs struct {
	// HTTP is the intake and operations listener.
	HTTP string
	// BrokerURL is the broker ingest connects to (the embedded one's
	// address when embedded).
	BrokerURL string
	// Embedded reports whether the broker is the embedded one.
	Embedded bool
	// Twin is the digital twin, when the configuration has one.
	Twin twin.Reader
}

// Run runs ingest until ctx is done, then stops every part within about
// ten seconds.
func Run(ctx context.Context, cfg *config.Config, opts Options) (err error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	closeCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 10*time.Second)
	}

	store, err := dedup.Open(dedup.Config{Dir: cfg.StateDir, GapTimeout: cfg.GapTimeout.D(), Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	dl, err := deadletter.Open(deadletter.Config{Dir: cfg.DeadLetter.Dir, MaxBytes: cfg.DeadLetter.MaxBytes, Logger: log, Registerer: reg})
	if err != nil {
		return err
	}
	sink := opts.Sink
	if sink == nil {
		is, err := influx.New(influx.Config{
			URL: cfg.Influx.URL, Token: cfg.Influx.Token, Org: cfg.Influx.Org, Bucket: cfg.Influx.Bucket,
			Measurement: cfg.Influx.Measurement, BatchSize: cfg.Influx.BatchSize,
			FlushInterval: cfg.Influx.FlushInterval.D(), Timeout: cfg.Influx.Timeout.D(),
			RetryBase: cfg.Influx.RetryBase.D(), RetryMax: cfg.Influx.RetryMax.D(),
			Logger: log.With("component", "influx"), Registerer: reg,
		}, cfg.Meta())
		if err != nil {
			return fmt.Errorf("ingest: influx sink: %w", err)
		}
		defer func() {
			c, cancel := closeCtx()
			defer cancel()
			err = errors.Join(err, is.Close(c))
		}()
		sink = influxsink.Sink{S: is}
	}
	var addrs Addrs
	var tw *twin.Twin
	if cfg.Twin != nil {
		if tw, err = buildTwin(cfg, log, reg); err != nil {
			return err
		}
		if opts.Applier == nil {
			opts.Applier = tw
		}
		addrs.Twin = tw
	}
	svc, err := service.New(service.Config{
		Sink: sink, Applier: opts.Applier, Dedup: store, DeadLetter: dl,
		Gateways: cfg.GatewayIDs(), Devices: cfg.Devices(), UnknownDevices: cfg.UnknownDevices, MaxNewDevices: cfg.MaxNewDevices,
		MaxAge: cfg.MaxAge.D(), MaxFuture: cfg.MaxFuture.D(), Workers: cfg.Workers, QueueLen: cfg.Queue,
		Logger: log, Registerer: reg,
	})
	if err != nil {
		return err
	}

	addrs.BrokerURL = cfg.Broker.URL
	user, pass := cfg.Broker.Username, cfg.Broker.Password
	if addrs.BrokerURL == "" {
		if pass == "" {
			pass = randomSecret()
		}
		b, err := broker.Start(broker.Config{Listen: cfg.Broker.Listen, Topics: cfg.Topics(), Gateways: cfg.Passwords(), GatewayHashes: cfg.PasswordHashes(),
			IngestUser: user, IngestPassword: pass, Logger: log})
		if err != nil {
			return err
		}
		defer func() {
			c, cancel := closeCtx()
			defer cancel()
			err = errors.Join(err, b.Close(c))
		}()
		addrs.BrokerURL, addrs.Embedded = b.URL(), true
	}
	mq, err := intake.NewMQTT(intake.MQTTConfig{URL: addrs.BrokerURL, ClientID: cfg.Broker.ClientID,
		Username: user, Password: pass, Topics: cfg.Topics(), ShareGroup: cfg.Broker.ShareGroup,
		OnStatus: statusTo(tw), Logger: log.With("component", "mqtt")}, svc)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	intake.NewHTTP(intake.HTTPConfig{Tokens: cfg.Tokens(), Ready: svc.Ready, Timeout: cfg.HTTP.RequestTimeout.D(),
		Logger: log.With("component", "http")}, svc).Register(mux)
	if tw != nil {
		if err := mountTwin(mux, cfg, tw, log, reg); err != nil {
			return err
		}
	}
	intake.RegisterOps(mux, reg,
		intake.Check{Name: "sink", OK: svc.Ready},
		intake.Check{Name: "mqtt", OK: mq.Connected})
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("ingest: listen on %s: %w", cfg.HTTP.Listen, err)
	}
	addrs.HTTP = ln.Addr().String()
	// Requests see a context that ends when the server shuts down, so that
	// long-lived SSE streams end too instead of holding Shutdown to its
	// deadline.
	reqCtx, endRequests := context.WithCancel(context.Background())
	defer endRequests()
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return reqCtx }}
	srv.RegisterOnShutdown(endRequests)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return svc.Run(gctx) })
	g.Go(func() error { return mq.Run(gctx) })
	if tw != nil {
		g.Go(func() error {
			if err := tw.Run(gctx); err != nil && gctx.Err() == nil {
				return fmt.Errorf("ingest: twin: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("ingest: http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		c, cancel := closeCtx()
		defer cancel()
		return srv.Shutdown(c)
	})
	log.Info("ingest running", "http", addrs.HTTP, "broker", addrs.BrokerURL, "embedded_broker", addrs.Embedded)
	if opts.Started != nil {
		opts.Started(addrs)
	}
	return g.Wait()
}

func randomSecret() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
