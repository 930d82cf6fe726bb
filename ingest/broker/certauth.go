package broker

import (
	"crypto/tls"
	"crypto/x509"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// peerCertificate returns the gateway ID (common name) and serial (hex)
// of the client certificate a TLS connection presented and the listener
// verified against TLS.ClientCAs; ok is false without one.
func peerCertificate(cl *mqtt.Client) (id, serial string, ok bool) {
	c, isConn := cl.Net.Conn.(*conn)
	if !isConn {
		return "", "", false
	}
	tc, isTLS := c.Conn.(*tls.Conn)
	if !isTLS {
		return "", "", false
	}
	st := tc.ConnectionState()
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return "", "", false
	}
	leaf := st.PeerCertificates[0]
	return leaf.Subject.CommonName, leaf.SerialNumber.Text(16), true
}

// SerialOf is a certificate's serial as CertOK receives it (hex).
func SerialOf(c *x509.Certificate) string { return c.SerialNumber.Text(16) }
