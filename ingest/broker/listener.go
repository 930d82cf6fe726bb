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
//
// Close lets no connection reach mochi once it has begun, closes every
// socket still open, and returns when every connection has ended: mochi
// adds to its clients' WaitGroup inside each connection while its Close
// waits on that group (a race, and a connection missed by the wait), and
// a socket that never sent CONNECT would otherwise hold the shutdown until
// its connect deadline.
type listener struct {
	id             string
	ln             net.Listener
	tls            *tls.Config // nil: plaintext
	connectTimeout time.Duration
	slots          chan struct{}
	log            *slog.Logger

	closeOnce sync.Once
	mu        sync.Mutex
	closed    bool                  // under mu
	conns     map[net.Conn]struct{} // open sockets, under mu
	serving   sync.WaitGroup        // connections' goroutines
}

func newListener(id string, ln net.Listener, tlsConf *tls.Config, lim Limits, log *slog.Logger) *listener {
	return &listener{id: id, ln: ln, tls: tlsConf, connectTimeout: lim.ConnectTimeout,
		slots: make(chan struct{}, lim.MaxClients), log: log, conns: map[net.Conn]struct{}{}}
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
			if l.isClosed() || errors.Is(err, net.ErrClosed) {
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
		if !l.track(c) {
			<-l.slots
			c.Close()
			return
		}
		go func() {
			defer func() { <-l.slots }()
			defer l.untrack(c)
			l.serve(c, establish)
		}()
	}
}

// track counts c among the open sockets and its goroutine among those
// Close waits for; false once Close has begun.
func (l *listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	l.serving.Add(1)
	return true
}

func (l *listener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	l.serving.Done()
}

func (l *listener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
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
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		l.ln.Close()
		closeClients(l.id) // sessions first, with mochi's DISCONNECT
		l.mu.Lock()
		for c := range l.conns {
			c.Close() // then sockets still before or inside CONNECT
		}
		l.mu.Unlock()
		l.serving.Wait()
	})
}
