package uplink

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/ponte-city/ponte/internal/tlsclient"
)

// LoadTLS builds the TLS configuration of a gateway's broker connection.
// caFile holds the PEM certificates that may sign the broker's certificate
// ("" trusts the system roots). certFile and keyFile hold the gateway's own
// PEM certificate and key for mutual TLS; both or neither must be given.
// TLS 1.2 is the minimum.
func LoadTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg, err := tlsclient.Config(caFile)
	if err != nil {
		return nil, fmt.Errorf("load tls: %w", err)
	}
	switch {
	case certFile == "" && keyFile == "":
	case certFile == "" || keyFile == "":
		return nil, errors.New("load tls: client certificate and key go together (expected both cert_file and key_file, or neither)")
	default:
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("load tls: client certificate %s with key %s: %w", certFile, keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
