package broker

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/ponte-city/ponte/ingest/wire"
	"golang.org/x/crypto/bcrypt"
)

// Config configures the embedded broker.
type Config struct {
	// Listen is the TCP address (default "127.0.0.1:1883"; ":1883" for all
	// interfaces).
	Listen string
	// Topics is the topic layout the ACL enforces.
	Topics wire.Topics
	// Gateways maps gateway ID to password.
	Gateways map[string]string
	// GatewayHashes maps gateway ID to a bcrypt hash of its password, for
	// configs that do not keep passwords in the clear (ponte-ctl
	// password-hash makes one). A gateway is in one map or the other.
	GatewayHashes map[string][]byte
	// IngestUser and IngestPassword are ingest's own credentials (full
	// rights); both required.
	IngestUser, IngestPassword string
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		c.Listen = "127.0.0.1:1883"
	}
	if c.IngestUser == "" || c.IngestPassword == "" {
		errs = append(errs, errors.New("broker: ingest user and password: required"))
	}
	for id, pw := range c.Gateways {
		if !wire.ValidGatewayID(id) {
			errs = append(errs, fmt.Errorf("broker: gateway %q: not a valid gateway ID", id))
		}
		if pw == "" {
			errs = append(errs, fmt.Errorf("broker: gateway %q: password: required", id))
		}
		if id == c.IngestUser {
			errs = append(errs, fmt.Errorf("broker: gateway %q: same name as ingest's own user", id))
		}
	}
	for id, h := range c.GatewayHashes {
		if !wire.ValidGatewayID(id) {
			errs = append(errs, fmt.Errorf("broker: gateway %q: not a valid gateway ID", id))
		}
		if _, err := bcrypt.Cost(h); err != nil {
			errs = append(errs, fmt.Errorf("broker: gateway %q: password hash: %v (expected a bcrypt hash such as $2a$12$...)", id, err))
		}
		if _, both := c.Gateways[id]; both {
			errs = append(errs, fmt.Errorf("broker: gateway %q: both a password and a password hash", id))
		}
		if id == c.IngestUser {
			errs = append(errs, fmt.Errorf("broker: gateway %q: same name as ingest's own user", id))
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return errors.Join(errs...)
}

// Broker is a running embedded broker. Its methods are safe for
// concurrent use.
type Broker struct {
	srv  *mqtt.Server
	addr string
}

// Start listens on cfg.Listen and serves MQTT until Close.
func Start(cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = wire.MaxBatchBytes + 64<<10
	srv := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       cfg.Logger.With("component", "broker"),
	})
	if err := srv.AddHook(&authHook{cfg: cfg}, nil); err != nil {
		return nil, fmt.Errorf("broker: add auth hook: %w", err)
	}
	// Listen here rather than in mochi so that a busy port is an error now
	// and ":0" reports the port it got.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("broker: listen on %s: %w", cfg.Listen, err)
	}
	tcp := listeners.NewNet("tcp", ln)
	if err := srv.AddListener(tcp); err != nil {
		ln.Close()
		return nil, fmt.Errorf("broker: add listener: %w", err)
	}
	if err := srv.Serve(); err != nil {
		ln.Close()
		return nil, fmt.Errorf("broker: serve: %w", err)
	}
	cfg.Logger.Info("embedded MQTT broker listening", "addr", ln.Addr().String(), "gateways", len(cfg.Gateways))
	return &Broker{srv: srv, addr: ln.Addr().String()}, nil
}

// Addr returns the address the broker listens on.
func (b *Broker) Addr() string { return b.addr }

// URL returns the broker's URL for paho ("tcp://host:port").
func (b *Broker) URL() string { return "tcp://" + b.addr }

// Close disconnects every client and stops the broker. mochi's Close does
// not block on clients, so ctx only bounds the call.
func (b *Broker) Close(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- b.srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("broker: close: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("broker: close: %w", ctx.Err())
	}
}

// authHook authenticates clients and enforces the per-gateway ACL.
type authHook struct {
	mqtt.HookBase
	cfg Config
}

// ID implements mqtt.Hook.
func (h *authHook) ID() string { return "ponte-auth" }

// Provides implements mqtt.Hook.
func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// OnConnectAuthenticate implements mqtt.Hook.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user, pass := string(pk.Connect.Username), pk.Connect.Password
	ok := false
	switch {
	case user == "":
	case user == h.cfg.IngestUser:
		ok = equal(pass, []byte(h.cfg.IngestPassword))
	default:
		if pw, known := h.cfg.Gateways[user]; known {
			ok = equal(pass, []byte(pw))
		} else if hash, known := h.cfg.GatewayHashes[user]; known {
			ok = bcrypt.CompareHashAndPassword(hash, pass) == nil
		}
	}
	if !ok {
		h.cfg.Logger.Warn("MQTT client refused: bad credentials", "username", user, "client", cl.ID, "remote", cl.Net.Remote)
	}
	return ok
}

// known reports whether user is a configured gateway.
func (h *authHook) known(user string) bool {
	_, plain := h.cfg.Gateways[user]
	_, hashed := h.cfg.GatewayHashes[user]
	return plain || hashed
}

// OnACLCheck implements mqtt.Hook.
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	if user == h.cfg.IngestUser && user != "" {
		return true
	}
	if !h.known(user) {
		return false
	}
	t := h.cfg.Topics
	var ok bool
	if write {
		ok = topic == t.Up(user) || topic == t.Status(user)
	} else {
		ok = topic == t.Ack(user) || topic == t.Cmd(user)
	}
	if !ok {
		h.cfg.Logger.Warn("MQTT access refused", "gateway", user, "topic", topic, "write", write, "remote", cl.Net.Remote)
	}
	return ok
}
