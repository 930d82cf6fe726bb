// Package tlsclient is the client side of TLS as Ponte's agent and tools
// use it: TLS 1.2 or later, and the certificate authorities a server is
// checked against read from one PEM file (or the system's when none is
// named).
package tlsclient

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"
)

// Config returns a client configuration trusting the PEM certificates in
// caFile ("": the system roots).
func Config(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate found", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// HTTPClient returns an HTTP client with Config(caFile), the
// environment's proxy settings, and timeout on every request.
func HTTPClient(caFile string, timeout time.Duration) (*http.Client, error) {
	tc, err := Config(caFile)
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}, nil
}
