package config

import (
	"crypto/tls"
	"net"
	"time"

	"github.com/ponte-city/ponte/internal/yamlconf"
)

// HTTP is ingest's HTTP side: the public listener (the HTTP intake, the
// twin's API and pages) and the ops listener (/metrics, /healthz,
// /readyz), kept apart so that the ops endpoints are not on the public
// port; the ops listener is on loopback by default.
//
// The timeouts and caps bound what a client can hold: a request must send
// its headers within ReadHeaderTimeout and its whole body within
// ReadTimeout, an answer must be written within WriteTimeout (the SSE
// stream extends it at each event), an idle keep-alive connection is
// closed after IdleTimeout, and at most MaxConnections are open at once
// (more wait to be accepted).
type HTTP struct {
	// Listen is the public address (default 127.0.0.1:8080).
	Listen string `yaml:"listen"`
	// OpsListen is the address of /metrics, /healthz and /readyz
	// (default 127.0.0.1:8081).
	OpsListen string `yaml:"ops_listen"`
	// RequestTimeout bounds how long an HTTP batch waits to be written
	// (default 30s).
	RequestTimeout yamlconf.Duration `yaml:"request_timeout"`
	// ReadHeaderTimeout bounds reading a request's headers (default 10s).
	ReadHeaderTimeout yamlconf.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included
	// (default 30s).
	ReadTimeout yamlconf.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds a request from the end of its headers to the
	// end of its answer; more than RequestTimeout (default 90s).
	WriteTimeout yamlconf.Duration `yaml:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long
	// (default 60s).
	IdleTimeout yamlconf.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes caps a request's headers; beyond, 431 (default
	// 16384).
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxConnections caps open connections of the public listener; more
	// wait in the accept queue (default 10000; above the twin API's 5,000
	// SSE streams).
	MaxConnections int `yaml:"max_connections"`
	// AuthBurst is how many failed authentications (gateway HTTP tokens,
	// operator tokens) one address may make before it is answered 429
	// unchecked (default 10).
	AuthBurst int `yaml:"auth_burst"`
	// AuthGatewayBurst is how many failed HTTP intake authentications
	// for one gateway ID, from all addresses together, are answered before
	// that gateway's requests get 429 unchecked (default 100): guessing
	// spread over many addresses is bounded too. It is larger than
	// AuthBurst so that one address cannot lock a gateway out.
	AuthGatewayBurst int `yaml:"auth_gateway_burst"`
	// AuthRefill is how often such an address (or gateway) regains one
	// attempt (default 2s).
	AuthRefill yamlconf.Duration `yaml:"auth_refill"`
	// TLS, when set, serves the public listener over HTTPS (TLS 1.2 or
	// later).
	TLS *HTTPTLS `yaml:"tls"`
}

// HTTPTLS is the public listener's certificate. Relative paths are taken
// from the config file's folder.
type HTTPTLS struct {
	// CertFile is the PEM certificate chain, the server's first.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key.
	KeyFile string `yaml:"key_file"`
}

// DefaultHTTP returns the HTTP defaults.
func DefaultHTTP() HTTP {
	return HTTP{
		Listen:            "127.0.0.1:8080",
		OpsListen:         "127.0.0.1:8081",
		RequestTimeout:    yamlconf.Duration(30 * time.Second),
		ReadHeaderTimeout: yamlconf.Duration(10 * time.Second),
		ReadTimeout:       yamlconf.Duration(30 * time.Second),
		WriteTimeout:      yamlconf.Duration(90 * time.Second),
		IdleTimeout:       yamlconf.Duration(60 * time.Second),
		MaxHeaderBytes:    16 << 10,
		MaxConnections:    10000,
		AuthBurst:         10,
		AuthGatewayBurst:  100,
		AuthRefill:        yamlconf.Duration(2 * time.Second),
	}
}

func (c *Config) validateHTTP(bad func(path, format string, args ...any)) {
	h := c.HTTP
	if _, _, err := net.SplitHostPort(h.Listen); err != nil {
		bad("http.listen", "%q is not host:port", h.Listen)
	}
	if _, port, err := net.SplitHostPort(h.OpsListen); err != nil {
		bad("http.ops_listen", "%q is not host:port (e.g. 127.0.0.1:8081)", h.OpsListen)
	} else if h.OpsListen == h.Listen && port != "0" {
		bad("http.ops_listen", "%q is http.listen too; the ops endpoints need their own address", h.OpsListen)
	}
	for _, d := range []struct {
		path string
		v    yamlconf.Duration
	}{{"http.request_timeout", h.RequestTimeout}, {"http.read_header_timeout", h.ReadHeaderTimeout},
		{"http.read_timeout", h.ReadTimeout}, {"http.write_timeout", h.WriteTimeout},
		{"http.idle_timeout", h.IdleTimeout}, {"http.auth_refill", h.AuthRefill}} {
		if d.v <= 0 {
			bad(d.path, "%v (expected a positive duration such as 30s)", d.v.D())
		}
	}
	if h.WriteTimeout > 0 && h.WriteTimeout <= h.RequestTimeout {
		bad("http.write_timeout", "%v is not more than http.request_timeout %v: a batch's answer could not be written", h.WriteTimeout.D(), h.RequestTimeout.D())
	}
	if h.MaxHeaderBytes < 1024 {
		bad("http.max_header_bytes", "%d (expected 1024 or more bytes)", h.MaxHeaderBytes)
	}
	if h.MaxConnections <= 0 {
		bad("http.max_connections", "%d (expected a positive number)", h.MaxConnections)
	}
	if h.AuthBurst <= 0 {
		bad("http.auth_burst", "%d (expected a positive number of attempts)", h.AuthBurst)
	}
	if h.AuthGatewayBurst <= 0 {
		bad("http.auth_gateway_burst", "%d (expected a positive number of attempts)", h.AuthGatewayBurst)
	}
	if h.TLS != nil {
		switch {
		case h.TLS.CertFile == "":
			bad("http.tls.cert_file", "required with http.tls (a PEM certificate)")
		case h.TLS.KeyFile == "":
			bad("http.tls.key_file", "required with http.tls (a PEM private key)")
		default:
			if _, err := tls.LoadX509KeyPair(c.resolve(h.TLS.CertFile), c.resolve(h.TLS.KeyFile)); err != nil {
				bad("http.tls", "cannot load the certificate and key: %v", err)
			}
		}
	}
}

// HTTPTLSConfig returns the public listener's TLS configuration (TLS 1.2
// or later, the certificate loaded), or nil without http.tls.
func (c *Config) HTTPTLSConfig() (*tls.Config, error) {
	if c.HTTP.TLS == nil {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.resolve(c.HTTP.TLS.CertFile), c.resolve(c.HTTP.TLS.KeyFile))
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}
