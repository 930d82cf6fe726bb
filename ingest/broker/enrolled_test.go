package broker_test

import (
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/crypto/bcrypt"

	"github.com/ponte-city/ponte/ingest/broker"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

func hash(t *testing.T, pw string) []byte {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// connectLost connects and reports through lost when the connection ends
// without the client asking.
func connectLost(t *testing.T, url, id, user, pass string, lost *atomic.Bool) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetUsername(user).SetPassword(pass).
		SetAutoReconnect(false).SetProtocolVersion(4).SetConnectTimeout(5 * time.Second).SetCleanSession(false).
		SetConnectionLostHandler(func(paho.Client, error) { lost.Store(true) })
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect as %s: %v", user, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func TestEnrolledGatewayRotatedAndRevoked(t *testing.T) {
	b := start(t)
	topics := wire.Topics{Prefix: prefix}
	if err := b.CheckGateway("gw1"); err == nil {
		t.Fatal("a configured gateway may be enrolled")
	}
	if err := b.CheckGateway("ingest"); err == nil {
		t.Fatal("ingest's own user may be enrolled")
	}
	if _, err := connect(b.URL(), "ponte-edge-fi-9", "fi-9", "first-password-0123456789"); err == nil {
		t.Fatal("a gateway connected before it enrolled")
	}
	if err := b.SetGateway("fi-9", hash(t, "first-password-0123456789")); err != nil {
		t.Fatal(err)
	}
	var lost atomic.Bool
	gw := connectLost(t, b.URL(), "ponte-edge-fi-9", "fi-9", "first-password-0123456789", &lost)
	var in inbox
	ing, err := connect(b.URL(), "ingest-1", "ingest", ipw)
	if err != nil {
		t.Fatal(err)
	}
	defer ing.Disconnect(0)
	ing.Subscribe(topics.Up("+"), 1, in.add).WaitTimeout(5 * time.Second)
	gw.Publish(topics.Up("fi-9"), 1, false, "b1").WaitTimeout(5 * time.Second)
	gw.Publish(topics.Up("gw1"), 1, false, "forged").WaitTimeout(5 * time.Second)
	testenv.Eventually(t, 5*time.Second, "the enrolled gateway's batch reaches ingest", func() bool { return len(in.get()) >= 1 })
	if got := in.get(); len(got) != 1 || got[0] != topics.Up("fi-9")+" b1" {
		t.Fatalf("ingest received %v: want only the gateway's own batch", got)
	}

	// Re-enrolment: the session opened with the old password ends, the old
	// password is refused, the new one works.
	if err := b.SetGateway("fi-9", hash(t, "second-password-0123456789")); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "the old credentials' connection is closed", lost.Load)
	if _, err := connect(b.URL(), "ponte-edge-fi-9", "fi-9", "first-password-0123456789"); err == nil {
		t.Fatal("the old password still works after rotation")
	}
	lost.Store(false)
	connectLost(t, b.URL(), "ponte-edge-fi-9", "fi-9", "second-password-0123456789", &lost)

	// Revocation: closed now, refused after, its session gone.
	if n := b.RemoveGateway("fi-9"); n != 1 {
		t.Fatalf("revocation ended %d sessions, want 1", n)
	}
	testenv.Eventually(t, 5*time.Second, "the revoked gateway's connection is closed", lost.Load)
	if c, err := connect(b.URL(), "ponte-edge-fi-9", "fi-9", "second-password-0123456789"); err == nil {
		c.Disconnect(0)
		t.Fatal("the revoked gateway reconnected")
	}
	if online, offline := b.Sessions(); online != 1 || offline != 0 {
		t.Fatalf("sessions after revocation: %d online, %d offline; want only ingest's", online, offline)
	}
}

func TestCertificateAuthentication(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := testenv.Issue(t, nil, nil, "ponte enrolment CA", true)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	srv, srvKey := testenv.Issue(t, ca, caKey, "broker", false, testenv.Loopback)
	certFile := testenv.WriteCert(t, filepath.Join(dir, "broker.pem"), srv)
	keyFile := testenv.WriteKey(t, filepath.Join(dir, "broker.key"), srvKey)
	gwCert, gwKey := testenv.Issue(t, ca, caKey, "fi-9", false)
	otherCA, otherKey := testenv.Issue(t, nil, nil, "someone's CA", true)
	forged, forgedKey := testenv.Issue(t, otherCA, otherKey, "fi-9", false)

	var mu sync.Mutex
	current := broker.SerialOf(gwCert)
	b, _ := startWith(t, func(c *broker.Config) {
		c.TLS = broker.TLS{Listen: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile, ClientCAs: pool}
		c.CertOK = func(id, serial string) bool {
			mu.Lock()
			defer mu.Unlock()
			return id == "fi-9" && serial == current
		}
	})
	if err := b.SetGateway("fi-9", hash(t, "a-password-0123456789")); err != nil {
		t.Fatal(err)
	}
	dial := func(cert *x509.Certificate, key any, user string) error {
		tc := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
		if cert != nil {
			tc.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}}
		}
		o := paho.NewClientOptions().AddBroker("ssl://" + b.TLSAddr()).SetClientID("ponte-edge-fi-9").SetUsername(user).
			SetAutoReconnect(false).SetProtocolVersion(4).SetConnectTimeout(5 * time.Second).SetTLSConfig(tc)
		c := paho.NewClient(o)
		tok := c.Connect()
		tok.WaitTimeout(10 * time.Second)
		if tok.Error() == nil {
			c.Disconnect(0)
		}
		return tok.Error()
	}
	if err := dial(gwCert, gwKey, ""); err != nil {
		t.Fatalf("the gateway's current certificate, no password: %v", err)
	}
	if err := dial(gwCert, gwKey, "fi-9"); err != nil {
		t.Fatalf("the gateway's current certificate with its own username: %v", err)
	}
	if err := dial(gwCert, gwKey, "gw1"); err == nil {
		t.Fatal("fi-9's certificate let a client in as gw1")
	}
	if err := dial(forged, forgedKey, ""); err == nil {
		t.Fatal("a certificate of another CA was accepted")
	}
	if err := dial(nil, nil, "fi-9"); err == nil {
		t.Fatal("no certificate and no password was accepted")
	}
	mu.Lock()
	current = "1" // the certificate was replaced or revoked
	mu.Unlock()
	if err := dial(gwCert, gwKey, ""); err == nil {
		t.Fatal("a certificate that is no longer current was accepted")
	}
}
