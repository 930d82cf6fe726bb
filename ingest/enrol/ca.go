package enrol

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"
)

// DefaultCertValidity is how long a gateway's client certificate is valid.
const DefaultCertValidity = 397 * 24 * time.Hour

// CA signs gateways' client certificates: the certificate authority that
// the broker's TLS listener trusts for gateways (the embedded broker's
// broker.tls.client_ca_file, Mosquitto's cafile). The common name is the
// gateway ID, whatever the CSR asks; the key is the gateway's own (only
// its CSR travels).
type CA struct {
	cert     *x509.Certificate
	key      crypto.Signer
	certPEM  string
	validity time.Duration
}

// LoadCA reads a CA's PEM certificate and key; validity 0 is
// DefaultCertValidity.
func LoadCA(certFile, keyFile string, validity time.Duration) (*CA, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("enrolment CA %s with key %s: %w", certFile, keyFile, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("enrolment CA %s: %w", certFile, err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("enrolment CA %s: not a CA certificate (expected basic constraints CA:TRUE and key usage certSign)", certFile)
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("enrolment CA %s: the key cannot sign", keyFile)
	}
	raw, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	if validity == 0 {
		validity = DefaultCertValidity
	}
	return &CA{cert: cert, key: key, certPEM: string(raw), validity: validity}, nil
}

// Pool returns a pool holding the CA, for a TLS listener.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// sign checks a PEM CSR's signature and issues a client certificate for
// gateway id; it returns the certificate's PEM and its serial (hex).
func (ca *CA) sign(csrPEM []byte, id string, now time.Time) (string, string, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return "", "", errors.New("expected a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return "", "", err
	}
	if err := csr.CheckSignature(); err != nil {
		return "", "", fmt.Errorf("signature: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return "", "", err
	}
	notAfter := now.Add(ca.validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: id},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, csr.PublicKey, ca.key)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), serial.Text(16), nil
}

// Serial is a certificate's serial as the registry records it.
func Serial(c *x509.Certificate) string { return c.SerialNumber.Text(16) }
