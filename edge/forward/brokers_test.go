package forward

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/testenv"
)

// customMosquitto starts mosquitto on a free loopback port with the
// listener line followed by conf, and returns the port. testenv.Mosquitto
// serves anonymous plain MQTT only; TLS and passwords need their own
// configuration.
func customMosquitto(t *testing.T, conf string) int {
	t.Helper()
	bin := testenv.Need(t, "mosquitto", "apt-get install mosquitto")
	port := testenv.FreePort(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "mosquitto.conf")
	full := fmt.Sprintf("listener %d 127.0.0.1\npersistence false\n%s", port, conf)
	if err := os.WriteFile(path, []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", path)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return port
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto (%s) did not listen on %s within 10s", conf, addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// brokerDir returns a directory the broker can read files from: as root,
// mosquitto drops privileges to its own user before loading certificates
// and password files, and t.TempDir() is private to the test's user.
func brokerDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ponte-forward-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pki is a test CA with a server certificate for 127.0.0.1 and a client
// certificate for the test gateway, as PEM files.
type pki struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	// OtherCert and OtherKey are a client certificate from another CA.
	OtherCert, OtherKey string
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := brokerDir(t)
	ca, caKey := issue(t, nil, nil, pkix.Name{CommonName: "ponte test CA"}, true, nil)
	p := pki{CA: writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.Raw)}
	srv, srvKey := issue(t, ca, caKey, pkix.Name{CommonName: "broker"}, false, []net.IP{net.ParseIP("127.0.0.1")})
	p.ServerCert = writePEM(t, dir, "server.pem", "CERTIFICATE", srv.Raw)
	p.ServerKey = writeKey(t, dir, "server.key", srvKey)
	cli, cliKey := issue(t, ca, caKey, pkix.Name{CommonName: testGW}, false, nil)
	p.ClientCert = writePEM(t, dir, "client.pem", "CERTIFICATE", cli.Raw)
	p.ClientKey = writeKey(t, dir, "client.key", cliKey)
	other, otherKey := issue(t, nil, nil, pkix.Name{CommonName: testGW}, false, nil)
	p.OtherCert = writePEM(t, dir, "other.pem", "CERTIFICATE", other.Raw)
	p.OtherKey = writeKey(t, dir, "other.key", otherKey)
	return p
}

// issue makes a certificate signed by parent (self-signed if nil).
func issue(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, name pkix.Name, isCA bool, ips []net.IP) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      name,
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
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writeKey(t *testing.T, dir, name string, key *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, name, "PRIVATE KEY", der)
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
