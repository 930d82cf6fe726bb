package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"

	"github.com/nats-io/nats.go"

	"github.com/ponte-city/ponte/internal/natsauth"
)

// NATSConn is how ingest connects to a NATS cluster, the same fields in
// every section that uses one (broker.nats, dedup.nats, twin.replica),
// inline in each:
//
//	urls: [nats://nats-1:4222, nats://nats-2:4222, nats://nats-3:4222]
//	user: ponte-ingest              # and password (or password_file,
//	password_file: /etc/ponte/nats  #   password_env); or token
//	                                #   (token_file, token_env); or
//	                                #   credentials: a .creds file
//	tls: {ca_file: ..., cert_file: ..., key_file: ..., server_name: ...}
type NATSConn struct {
	// URLs are every node's client URL ("nats://host:4222" or "tls://...").
	URLs []string `yaml:"urls"`
	// User and Password, Token, or Credentials (a .creds file, relative to
	// the configuration's folder): ingest's own login, one way only.
	// Password and Token also as *_file/*_env (see secrets.go).
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

// NATSTLS is the client side TLS of a NATS connection.
type NATSTLS struct {
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
}

// natsConnSecrets are the secret fields of the connection at path.
func natsConnSecrets(path string, n *NATSConn) []secretField {
	return []secretField{
		{path: path + ".password", value: &n.Password, file: n.PasswordFile, env: n.PasswordEnv},
		{path: path + ".token", value: &n.Token, file: n.TokenFile, env: n.TokenEnv},
	}
}

// validateNATSConn checks the connection at path (e.g. "broker.nats"),
// naming the field and what was expected, and resolves its files against
// the configuration's folder.
func (c *Config) validateNATSConn(path string, n *NATSConn, bad func(path, format string, args ...any)) {
	if c.takeSharedNATS(path, n) {
		return // checked as "nats"
	}
	if len(n.URLs) == 0 {
		bad(path+".urls", "required: every node's client URL (e.g. [nats://nats-1:4222, nats://nats-2:4222, nats://nats-3:4222])")
	}
	for i, s := range n.URLs {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls") {
			bad(fmt.Sprintf("%s.urls[%d]", path, i), "%q is not a NATS URL (expected nats://host:4222 or tls://host:4222)", s)
		}
	}
	ways := 0
	for _, set := range []bool{n.User != "" || n.Password != "", n.Token != "", n.Credentials != ""} {
		if set {
			ways++
		}
	}
	switch {
	case ways > 1:
		bad(path, "give one login: user and password, token, or credentials")
	case n.User != "" && n.Password == "":
		bad(path+".password", "required with user %q", n.User)
	case n.Password != "" && n.User == "":
		bad(path+".user", "required with a password")
	}
	if n.Credentials != "" {
		c.resolveOnce(&n.Credentials)
		if _, err := os.Stat(n.Credentials); err != nil {
			bad(path+".credentials", "cannot read %q: %v (expected a NATS .creds file)", n.Credentials, err)
		}
	}
	if t := n.TLS; t != nil {
		for _, f := range []*string{&t.CAFile, &t.CertFile, &t.KeyFile} {
			if *f != "" {
				c.resolveOnce(f)
			}
		}
		if (t.CertFile == "") != (t.KeyFile == "") {
			bad(path+".tls", "give cert_file and key_file together (a client certificate), or neither")
		}
		if _, err := n.TLSConfig(); err != nil {
			bad(path+".tls", "%v", err)
		}
	}
}

// TLSConfig returns the connection's TLS configuration (nil without tls).
func (n *NATSConn) TLSConfig() (*tls.Config, error) {
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

// Options are the connection's login and TLS as nats.go options, for the
// packages that connect (dedup, replica). The configuration was
// validated, so its TLS files load.
func (n *NATSConn) Options() []nats.Option {
	t, _ := n.TLSConfig() // validated: it loads
	return natsauth.Login{User: n.User, Password: n.Password, Token: n.Token,
		CredentialsFile: n.Credentials, TLS: t}.Options()
}

// resolveOnce resolves the path in *p against the configuration's folder
// the first time it is asked: Validate may run more than once
// (ponte-ingest validates again after its flags), and a relative folder
// joined twice would name another file.
func (c *Config) resolveOnce(p *string) {
	if c.resolved == nil {
		c.resolved = map[*string]bool{}
	}
	if !c.resolved[p] {
		*p = c.resolve(*p)
		c.resolved[p] = true
	}
}
