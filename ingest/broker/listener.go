package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// listener is a mochi listener that, unlike listeners.Net, caps the open
// sockets, gives every socket a deadline for its TLS handshake and
// CONNECT (mochi replaces it with the keep-alive deadline once CONNECT is
// read), performs the TLS handshake itself so that a failed one is logged
// at Warn with the remote address, and logs why a connection ended that
// never became a session (the hook logs the others, see OnDisconnect).
type listener struct {
	id             string
	ln             net.Listener
	tls            *tls.Config // nil: plaintext
	connectTimeout time.Duration
	slots          chan struct{}
	log            *slog.Logger

	closeOnce sync.Once
	closed    atomic.Bool
}

func newListener(id string, ln net.Listener, tlsConf *tls.Config, lim Limits, log *slog.Logger) *listener {
	return &listener{id: id, ln: ln, tls: tlsConf, connectTimeout: lim.ConnectTimeout,
		slots: make(chan struct{}, lim.MaxClients), log: log}
}

// conn is a client socket; the hook marks it once its session is
// established, so that the listener knows who logs its end.
type conn struct {
	net.Conn
	session atomic.Bool
}

// ID implements listeners.Listener.
func (l *listener) ID() string { return l.id }

// Address implements listeners.Listener.
func (l *listener) Address() string { return l.ln.Addr().String() }

// Protocol implements listeners.Listener.
func (l *listener) Protocol() string { return "tcp" }

// Init implements listeners.Listener; the socket is already open.
func (l *listener) Init(*slog.Logger) error { return nil }

// Serve implements listeners.Listener.
func (l *listener) Serve(establish listeners.EstablishFn) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if l.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Warn("MQTT accept failed", "listener", l.id, "err", err)
			time.Sleep(50 * time.Millisecond) // e.g. out of file descriptors: do not spin
			continue
		}
		select {
		case l.slots <- struct{}{}:
		default:
			l.log.Warn("MQTT connection refused: too many open connections", "listener", l.id,
				"remote", c.RemoteAddr().String(), "max_clients", cap(l.slots))
			c.Close()
			continue
		}
		go func() {
			defer func() { <-l.slots }()
			l.serve(c, establish)
		}()
	}
}

func (l *listener) serve(c net.Conn, establish listeners.EstablishFn) {
	remote := c.RemoteAddr().String()
	deadline := time.Now().Add(l.connectTimeout)
	c.SetDeadline(deadline)
	if l.tls != nil {
		tc := tls.Server(c, l.tls)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			l.log.Warn("MQTT TLS handshake failed", "listener", l.id, "remote", remote, "err", err)
			c.Close()
			return
		}
		c = tc
	}
	cc := &conn{Conn: c}
	err := establish(l.id, cc)
	var refused *refusal
	switch {
	case cc.session.Load() || errors.As(err, &refused):
		// Logged by the hook.
	case err == nil || errors.Is(err, io.EOF):
		l.log.Debug("MQTT connection closed before CONNECT", "listener", l.id, "remote", remote)
	case errors.Is(err, packets.ErrServerBusy):
		l.log.Warn("MQTT connection refused: too many clients", "listener", l.id, "remote", remote)
	default:
		l.log.Warn("MQTT connection closed before a session", "listener", l.id, "remote", remote, "reason", err.Error())
	}
}

// Close implements listeners.Listener.
func (l *listener) Close(closeClients listeners.CloseFn) {
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		closeClients(l.id)
		l.ln.Close()
	})
}
