package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/ponte-city/ponte/internal/throttle"
	"github.com/ponte-city/ponte/wire"
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
	// CertOK says whether a client certificate (its serial, hex) is the
	// current one of the gateway it names (the enrolment registry's
	// CertOK; nil: certificates do not authenticate).
	CertOK func(gateway, serial string) bool
	// Limits bound sockets, sessions, messages per client and failed
	// logins (zero fields: DefaultLimits).
	Limits Limits
	// TLS, if its Listen is set, adds a TLS listener (TLS 1.2 or later)
	// for gateways; Listen stays plaintext, for ingest itself on loopback.
	TLS TLS
	// Registerer receives the broker's metrics (default: a private
	// registry, i.e. not exported).
	Registerer prometheus.Registerer
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// TLS is the embedded broker's TLS listener.
type TLS struct {
	// Listen is its address, e.g. ":8883" (empty: no TLS listener).
	Listen string
	// CertFile and KeyFile are PEM files: the certificate chain gateways
	// verify, and its private key.
	CertFile, KeyFile string
	// ClientCAs, if set, is asked for client certificates (verified when
	// given, still optional): a gateway whose certificate it signed, with
	// the gateway ID as common name and that Config.CertOK says is the
	// gateway's current one, connects without a password (certauth.go).
	ClientCAs *x509.CertPool
}

// tlsConfig loads the certificate: TLS 1.2 or later, Go's default
// cipher suites (all AEAD with forward secrecy for 1.2).
func (t TLS) tlsConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("broker: tls: load certificate %s and key %s: %w", t.CertFile, t.KeyFile, err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCAs != nil {
		c.ClientCAs, c.ClientAuth = t.ClientCAs, tls.VerifyClientCertIfGiven
	}
	return c, nil
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
	ids := slices.AppendSeq(slices.Collect(maps.Keys(c.Gateways)), maps.Keys(c.GatewayHashes))
	for _, id := range ids {
		// Both would own the client ID "ponte-edge-x" (see authHook.owner).
		if short, ok := strings.CutPrefix(id, EdgeClientIDPrefix); ok && c.gateway(short) {
			errs = append(errs, fmt.Errorf("broker: gateway %q: its ID is gateway %q's client ID (%s<id>); rename one", id, short, EdgeClientIDPrefix))
		}
	}
	if err := c.Limits.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.TLS.Listen != "" && (c.TLS.CertFile == "" || c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("broker: tls: cert_file and key_file: required with a TLS listen address"))
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return errors.Join(errs...)
}

// gateway reports whether id is a configured gateway.
func (c *Config) gateway(id string) bool {
	_, plain := c.Gateways[id]
	_, hashed := c.GatewayHashes[id]
	return plain || hashed
}

// Broker is a running embedded broker. Its methods are safe for
// concurrent use.
type Broker struct {
	srv           *mqtt.Server
	hook          *authHook
	addr, tlsAddr string

	closeOnce sync.Once
	closed    chan struct{} // closed when mochi's Close has returned
}

// Start listens on cfg.Listen (and cfg.TLS.Listen) and serves MQTT
// until Close.
func Start(cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var tlsConf *tls.Config
	if cfg.TLS.Listen != "" {
		var err error
		if tlsConf, err = cfg.TLS.tlsConfig(); err != nil {
			return nil, err
		}
	}
	lim := cfg.Limits
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = wire.MaxBatchBytes + 64<<10
	caps.MaximumClients = int64(lim.MaxClients)
	caps.MaximumSessionExpiryInterval = uint32(lim.SessionExpiry / time.Second)
	caps.MaximumInflight = uint16(lim.MaxInflight)
	caps.MaximumClientWritesPending = int32(lim.MaxQueued)
	log := cfg.Logger.With("component", "broker")
	srv := mqtt.New(&mqtt.Options{Capabilities: caps, Logger: log})
	// One counter for every listener of ingest (MQTT here, HTTP intake
	// and operator API in internal/throttle's users).
	failures, err := throttle.AuthFailures(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	hook, err := newAuthHook(cfg, srv, failures)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if err := srv.AddHook(hook, nil); err != nil {
		return nil, fmt.Errorf("broker: add auth hook: %w", err)
	}
	b := &Broker{srv: srv, hook: hook, closed: make(chan struct{})}
	// Listen here rather than in mochi so that a busy port is an error now
	// and ":0" reports the port it got.
	for _, l := range []struct {
		id, addr string
		tls      *tls.Config
	}{{ListenerPlain, cfg.Listen, nil}, {ListenerTLS, cfg.TLS.Listen, tlsConf}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err == nil {
			err = srv.AddListener(newListener(l.id, ln, l.tls, lim, log))
		}
		if err != nil {
			srv.Close()
			return nil, fmt.Errorf("broker: listen on %s: %w", l.addr, err)
		}
		if l.tls == nil {
			b.addr = ln.Addr().String()
		} else {
			b.tlsAddr = ln.Addr().String()
		}
	}
	if err := srv.Serve(); err != nil {
		srv.Close()
		return nil, fmt.Errorf("broker: serve: %w", err)
	}
	cfg.Logger.Info("embedded MQTT broker listening", "addr", b.addr, "tls_addr", b.tlsAddr, "gateways", len(cfg.Gateways)+len(cfg.GatewayHashes),
		"max_clients", lim.MaxClients, "max_offline_sessions", lim.MaxOfflineSessions, "session_expiry", lim.SessionExpiry)
	return b, nil
}

// Listener IDs, the listener label of ponte_ingest_auth_failures_total.
const (
	ListenerPlain = "mqtt"
	ListenerTLS   = "mqtts"
)

// TLSAddr returns the address of the TLS listener ("" without one).
func (b *Broker) TLSAddr() string { return b.tlsAddr }

// Sessions counts the sessions the broker holds: connected, and kept
// without a connection.
func (b *Broker) Sessions() (online, offline int) {
	for _, c := range b.srv.Clients.GetAll() {
		switch {
		case !c.Closed():
			online++
		case !c.IsTakenOver():
			offline++
		}
	}
	return online, offline
}

// Addr returns the address the broker listens on.
func (b *Broker) Addr() string { return b.addr }

// URL returns the broker's URL for paho ("tcp://host:port").
func (b *Broker) URL() string { return "tcp://" + b.addr }

// Close disconnects every client and stops the broker, waiting for every
// connection to end; ctx only bounds the wait. Called again (after its
// ctx ran out, say), it waits for the same shutdown.
func (b *Broker) Close(ctx context.Context) error {
	b.closeOnce.Do(func() {
		go func() {
			b.srv.Close() // always nil
			close(b.closed)
		}()
	})
	select {
	case <-b.closed:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("broker: close: %w", ctx.Err())
	}
}
