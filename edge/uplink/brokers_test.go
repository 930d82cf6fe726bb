package uplink

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ponte-city/ponte/internal/testenv"
)

// customMosquitto starts mosquitto on a free loopback port with the
// listener line followed by conf, and returns the port. testenv.Mosquitto
// serves anonymous plain MQTT only; TLS and passwords need their own
// configuration.
func customMosquitto(t *testing.T, conf string) int {
	t.Helper()
	return testenv.MosquittoWith(t, conf).Port
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
	ca, caKey := testenv.Issue(t, nil, nil, "ponte test CA", true)
	p := pki{CA: testenv.WriteCert(t, filepath.Join(dir, "ca.pem"), ca)}
	srv, srvKey := testenv.Issue(t, ca, caKey, "broker", false, testenv.Loopback)
	p.ServerCert = testenv.WriteCert(t, filepath.Join(dir, "server.pem"), srv)
	p.ServerKey = testenv.WriteKey(t, filepath.Join(dir, "server.key"), srvKey)
	cli, cliKey := testenv.Issue(t, ca, caKey, testGW, false)
	p.ClientCert = testenv.WriteCert(t, filepath.Join(dir, "client.pem"), cli)
	p.ClientKey = testenv.WriteKey(t, filepath.Join(dir, "client.key"), cliKey)
	other, otherKey := testenv.Issue(t, nil, nil, testGW, false)
	p.OtherCert = testenv.WriteCert(t, filepath.Join(dir, "other.pem"), other)
	p.OtherKey = testenv.WriteKey(t, filepath.Join(dir, "other.key"), otherKey)
	return p
}
