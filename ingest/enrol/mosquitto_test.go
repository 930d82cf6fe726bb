package enrol

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

func TestMosquittoHashFormat(t *testing.T) {
	// mosquitto_passwd's own output for password "secret" with this salt
	// is checked against the real broker below; here the layout.
	h := mosquittoHashSalt("secret", []byte("0123456789ab"), 101)
	parts := strings.Split(h, "$")
	if len(parts) != 5 || parts[1] != "7" || parts[2] != "101" || parts[3] != "MDEyMzQ1Njc4OWFi" || len(parts[4]) != 88 {
		t.Fatalf("hash %q: expected $7$101$<base64 salt>$<base64 64-byte digest>", h)
	}
}

// TestMosquittoFilesEnrolAndRevoke runs a real Mosquitto on the password
// and ACL files the registry writes: an enrolled gateway publishes to its
// own topics only; once revoked (files rewritten, Mosquitto reloaded by
// SIGHUP) its connection is closed and its reconnect refused.
func TestMosquittoFilesEnrolAndRevoke(t *testing.T) {
	testenv.Integration(t, "a real Mosquitto")
	dir := t.TempDir()
	topics := wire.Topics{Prefix: wire.DefaultPrefix}
	m := &Mosquitto{PasswordFile: filepath.Join(dir, "ponte.passwd"), ACLFile: filepath.Join(dir, "ponte.acl"),
		IngestUser: "ponte-ingest", IngestPassword: "ingest-password-1", Topics: topics, Logger: slog.New(slog.DiscardHandler),
		Static: []string{"ba-static-1"}}
	r := open(t, filepath.Join(dir, "registry"), &clock{time.Now()}, nil, func(c *Config) { c.Mosquitto = m })
	// Mosquitto started as root would read the files as user mosquitto.
	b := testenv.MosquittoWith(t, fmt.Sprintf("user root\nallow_anonymous false\npassword_file %s\nacl_file %s\n", m.PasswordFile, m.ACLFile))
	m.ReloadCommand = []string{"kill", "-HUP", fmt.Sprint(b.Pid())}

	tok, _, err := r.IssueToken(Scope{Gateway: "fi-gw-1"}, 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := r.Enrol(Enrolment{Token: tok, Request: wire.EnrolRequest{Site: siteYAML("fi-gw-1", "m")}})
	if err != nil {
		t.Fatal(err)
	}
	acl, _ := os.ReadFile(m.ACLFile)
	if !strings.Contains(string(acl), "user fi-gw-1\ntopic write "+topics.Up("fi-gw-1")) ||
		!strings.Contains(string(acl), "user ba-static-1\ntopic write "+topics.Up("ba-static-1")) {
		t.Fatalf("ACL file has no block for the gateway:\n%s", acl)
	}

	got := make(chan string, 16)
	ingest := connect(t, b.URL, "ponte-ingest-1", "ponte-ingest", "ingest-password-1", nil)
	if tk := ingest.Subscribe(topics.Up("+"), 1, func(_ paho.Client, msg paho.Message) { got <- msg.Topic() }); !tk.WaitTimeout(10*time.Second) || tk.Error() != nil {
		t.Fatalf("ingest subscribe: %v", tk.Error())
	}
	var lost atomic.Bool
	gw := connect(t, b.URL, "ponte-edge-fi-gw-1", "fi-gw-1", creds.Password, func() { lost.Store(true) })
	publish := func(c paho.Client, topic string) {
		t.Helper()
		if tk := c.Publish(topic, 1, false, []byte("x")); !tk.WaitTimeout(10*time.Second) || tk.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tk.Error())
		}
	}
	publish(gw, topics.Up("fi-gw-2")) // another gateway's topic: dropped
	publish(gw, topics.Up("fi-gw-1"))
	select {
	case tp := <-got:
		if tp != topics.Up("fi-gw-1") {
			t.Fatalf("ingest received %s: the ACL let the gateway publish on another gateway's topic", tp)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the enrolled gateway's batch did not reach ingest")
	}

	if _, err := connectErr(b.URL, "ponte-edge-fi-gw-1b", "fi-gw-1", "wrong-password"); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if err := r.Revoke("fi-gw-1", "test"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "Mosquitto closes the revoked gateway's connection after the reload", lost.Load)
	if c, err := connectErr(b.URL, "ponte-edge-fi-gw-1", "fi-gw-1", creds.Password); err == nil {
		c.Disconnect(0)
		t.Fatal("the revoked gateway reconnected")
	}
	// Ingest itself still connects (its line is rewritten each time).
	connect(t, b.URL, "ponte-ingest-2", "ponte-ingest", "ingest-password-1", nil)
}

func connectErr(url, clientID, user, pass string) (paho.Client, error) {
	return connectWith(url, clientID, user, pass, nil)
}

func connectWith(url, clientID, user, pass string, onLost func()) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker(url).SetClientID(clientID).SetUsername(user).SetPassword(pass).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	if onLost != nil {
		o.SetConnectionLostHandler(func(paho.Client, error) { onLost() })
	}
	c := paho.NewClient(o)
	tk := c.Connect()
	if !tk.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect %s: no answer", user)
	}
	return c, tk.Error()
}

func connect(t *testing.T, url, clientID, user, pass string, onLost func()) paho.Client {
	t.Helper()
	c, err := connectWith(url, clientID, user, pass, onLost)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// TestMosquittoACLCommands: with the ACL file the registry writes, a real
// Mosquitto lets a gateway read only its own command topic and report
// only on its own report topic, and ingest read every report (issue 16).
func TestMosquittoACLCommands(t *testing.T) {
	testenv.Integration(t, "a real Mosquitto")
	dir := t.TempDir()
	topics := wire.Topics{Prefix: wire.DefaultPrefix}
	const pw1, pw2, ipw = "gw1-password-0123456789", "gw2-password-0123456789", "ingest-password-0123456789"
	m := &Mosquitto{PasswordFile: filepath.Join(dir, "ponte.passwd"), ACLFile: filepath.Join(dir, "ponte.acl"),
		IngestUser: "ponte-ingest", IngestPassword: ipw, Topics: topics}
	passwd, acl := m.files(map[string]*Gateway{"gw1": {Mosquitto: mosquittoHash(pw1)}, "gw2": {Mosquitto: mosquittoHash(pw2)}})
	if err := os.WriteFile(m.PasswordFile, passwd, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.ACLFile, acl, 0o600); err != nil {
		t.Fatal(err)
	}
	b := testenv.MosquittoWith(t, fmt.Sprintf("user root\nallow_anonymous false\npassword_file %s\nacl_file %s\n", m.PasswordFile, m.ACLFile))
	ingesttest.CheckCommandACL(t, b.URL, topics, ingesttest.Creds{User: "ponte-ingest", Password: ipw},
		ingesttest.Creds{User: "gw1", Password: pw1}, ingesttest.Creds{User: "gw2", Password: pw2})
}
