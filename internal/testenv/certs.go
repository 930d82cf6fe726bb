package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Issue makes a certificate for cn, signed by parent (self-signed when
// parent is nil), valid a day, for server and client authentication at
// ips; a CA may sign others.
func Issue(tb testing.TB, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool, ips ...net.IP) (*x509.Certificate, *ecdsa.PrivateKey) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  ips,
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		tmpl.ExtKeyUsage = nil
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert, key
}

// Loopback is the address certificates of local test servers are for.
var Loopback = net.IPv4(127, 0, 0, 1)

// WriteCert writes cert as PEM to path and returns path. Files are 0644:
// a broker that drops root (Mosquitto) must still read them.
func WriteCert(tb testing.TB, path string, cert *x509.Certificate) string {
	tb.Helper()
	return writePEM(tb, path, "CERTIFICATE", cert.Raw)
}

// WriteKey writes key as PKCS #8 PEM to path and returns path.
func WriteKey(tb testing.TB, path string, key *ecdsa.PrivateKey) string {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return writePEM(tb, path, "PRIVATE KEY", der)
}

func writePEM(tb testing.TB, path, typ string, der []byte) string {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// SelfSigned writes cert.pem and key.pem, a self-signed certificate for
// 127.0.0.1 named cn, into dir, and returns their paths and a pool that
// trusts the certificate.
func SelfSigned(tb testing.TB, dir, cn string) (certFile, keyFile string, pool *x509.CertPool) {
	tb.Helper()
	cert, key := Issue(tb, nil, nil, cn, false, Loopback)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return WriteCert(tb, filepath.Join(dir, "cert.pem"), cert), WriteKey(tb, filepath.Join(dir, "key.pem"), key), pool
}
