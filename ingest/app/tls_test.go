package app_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/ingesttest"
)

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ingest"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "ingest.crt"), filepath.Join(dir, "ingest.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestHTTPS: with http.tls the public listener speaks TLS 1.2 or later
// only and takes a gateway's batch; the ops listener stays plain HTTP on
// loopback.
func TestHTTPS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	cfg, _ := writeConfig(t, dir, "", "", 1)
	cfg.HTTP.TLS = &config.HTTPTLS{CertFile: certFile, KeyFile: keyFile}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	addrs := start(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	client := func(maxVersion uint16) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: maxVersion}}}
	}
	base := "https://" + addrs.HTTP
	if code, body := postBatch(t, client(0), base, "gw1", token("gw1"), ingesttest.BatchFor("gw1", 1, 1, 3)); code != 200 {
		t.Fatalf("batch over HTTPS: %d %s", code, body)
	}
	if _, err := client(tls.VersionTLS11).Get(base + "/v1/gateways/gw1/batches"); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
	if resp, err := http.Get("http://" + addrs.HTTP + "/v1/gateways/gw1/batches"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP on the TLS port: %d, want 400", resp.StatusCode)
		}
	}
}
