package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/ponte-city/ponte/internal/yamlconf"
)

// BrokerNATS is a NATS cluster as the broker (broker.nats): gateways
// connect over MQTT to any node's MQTT listener, and ingest consumes
// their batches from a replicated JetStream stream through a durable
// consumer all instances share (package intake, JetStream). It excludes
// broker.url and the embedded broker. Zero fields take intake's defaults.
type BrokerNATS struct {
	// URLs are every node's client URL ("nats://host:4222" or "tls://...").
	URLs []string `yaml:"urls"`
	// Stream and Consumer name the uplink stream and the shared durable
	// consumer (defaults PONTE_UPLINK, ponte-ingest).
	Stream   string `yaml:"stream"`
	Consumer string `yaml:"consumer"`
	// Replicas of the stream (default 3; at most the cluster's size).
	Replicas int `yaml:"replicas"`
	// AckWait is how long a delivered batch may go without an
	// acknowledgement or progress report before it is delivered again
	// (default 30s).
	AckWait yamlconf.Duration `yaml:"ack_wait"`
	// MaxAckPending bounds the unacknowledged batches over all instances
	// (default 1024).
	MaxAckPending int `yaml:"max_ack_pending"`
	// MaxAge and MaxBytes bound the stream (defaults 24h, unlimited).
	MaxAge   yamlconf.Duration `yaml:"max_age"`
	MaxBytes int64             `yaml:"max_bytes"`
	// User and Password, Token, or Credentials (a .creds file): ingest's
	// own login, one way only. Password and Token also as *_file/*_env.
	User         string `yaml:"user"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`
	Token        string `yaml:"token"`
	TokenFile    string `yaml:"token_file"`
	TokenEnv     string `yaml:"token_env"`
	Credentials  string `yaml:"credentials"`
	// TLS, if set, verifies the servers with CAFile (default: the system
	// roots) and presents CertFile/KeyFile when given.
	TLS *NATSTLS `yaml:"tls"`
}

// NATSTLS is the client side TLS of the NATS connection.
type NATSTLS struct {
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
}

// natsSecretFields are broker.nats' secrets, for resolveSecrets.
func (c *Config) natsSecretFields() []secretField {
	n := c.Broker.NATS
	if n == nil {
		return nil
	}
	return []secretField{
		{path: "broker.nats.password", value: &n.Password, file: n.PasswordFile, env: n.PasswordEnv},
		{path: "broker.nats.token", value: &n.Token, file: n.TokenFile, env: n.TokenEnv},
	}
}

// validateNATS checks broker.nats, naming the field and what was expected.
func (c *Config) validateNATS(bad func(path, format string, args ...any)) {
	n := c.Broker.NATS
	if n == nil {
		return
	}
	if c.Broker.URL != "" {
		bad("broker.nats", "broker.url is set too: give broker.url (an MQTT broker) or broker.nats (a NATS cluster), not both")
	}
	for _, f := range []string{"listen", "limits", "tls"} {
		if c.doc.Has("broker." + f) {
			bad("broker."+f, "belongs to the embedded broker, which does not run with broker.nats (gateways connect to the NATS nodes' MQTT listeners): remove it")
		}
	}
	if len(n.URLs) == 0 {
		bad("broker.nats.urls", "required: every node's client URL (e.g. [nats://nats-1:4222, nats://nats-2:4222, nats://nats-3:4222])")
	}
	for i, s := range n.URLs {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls") {
			bad(fmt.Sprintf("broker.nats.urls[%d]", i), "%q is not a NATS URL (expected nats://host:4222 or tls://host:4222)", s)
		}
	}
	for _, f := range []struct{ path, v string }{{"stream", n.Stream}, {"consumer", n.Consumer}} {
		if strings.ContainsAny(f.v, ". *>\t") {
			bad("broker.nats."+f.path, "%q (expected a name without '.', '*', '>' or spaces)", f.v)
		}
	}
	if n.Replicas < 0 || n.Replicas > 5 {
		bad("broker.nats.replicas", "%d (expected 1 to 5; 0 for the default, 3)", n.Replicas)
	}
	if n.AckWait < 0 {
		bad("broker.nats.ack_wait", "%v (expected a positive duration, e.g. 30s)", n.AckWait.D())
	}
	if n.MaxAckPending < 0 {
		bad("broker.nats.max_ack_pending", "%d (expected a positive number of batches)", n.MaxAckPending)
	}
	if n.MaxAge < 0 {
		bad("broker.nats.max_age", "%v (expected a positive duration, e.g. 24h)", n.MaxAge.D())
	}
	if n.MaxBytes < 0 {
		bad("broker.nats.max_bytes", "%d (expected a positive number of bytes; 0 for unlimited)", n.MaxBytes)
	}
	ways := 0
	for _, set := range []bool{n.User != "", n.Token != "", n.Credentials != ""} {
		if set {
			ways++
		}
	}
	if ways > 1 {
		bad("broker.nats", "give one login: user and password, token, or credentials")
	}
	if n.User != "" && n.Password == "" {
		bad("broker.nats.password", "required with user %q", n.User)
	}
	if n.Password != "" && n.User == "" {
		bad("broker.nats.user", "required with a password")
	}
	if n.Credentials != "" {
		n.Credentials = c.resolve(n.Credentials)
		if _, err := os.Stat(n.Credentials); err != nil {
			bad("broker.nats.credentials", "cannot read %q: %v", n.Credentials, err)
		}
	}
	if t := n.TLS; t != nil {
		for _, f := range []*string{&t.CAFile, &t.CertFile, &t.KeyFile} {
			if *f != "" {
				*f = c.resolve(*f)
			}
		}
		if (t.CertFile == "") != (t.KeyFile == "") {
			bad("broker.nats.tls", "give cert_file and key_file together (a client certificate), or neither")
		}
		if _, err := n.TLSConfig(); err != nil {
			bad("broker.nats.tls", "%v", err)
		}
	}
}

// TLSConfig returns the NATS connection's TLS configuration (nil without
// broker.nats.tls).
func (n *BrokerNATS) TLSConfig() (*tls.Config, error) {
	t := n.TLS
	if t == nil {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %q: no PEM certificate in it", t.CAFile)
		}
	}
	if t.CertFile != "" && t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file %q with key_file %q: %w", t.CertFile, t.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
