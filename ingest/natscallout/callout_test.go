package natscallout_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/bcrypt"

	"github.com/ponte-city/ponte/ingest/natscallout"
	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

var topics = wire.Topics{Prefix: "ponte"}

// The shipped files' placeholders the tests replace.
const (
	ingestPlaceholder = "CHANGE-ME-ingest-password-placeholder"
	issuerPlaceholder = "ABBRD7ZJWDI3ZFU2FHZPE76QCLTVB2LUEVSVKGOPD2BLVXDHTX2IM2KT"
)

// gateways is a Lookup the test changes: enrolled gateways' hashes.
type gateways struct {
	mu     sync.Mutex
	hashes map[string][]byte
}

func (g *gateways) enrol(t testing.TB, id, password string) {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hashes[id] = h
}

func (g *gateways) revoke(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.hashes, id)
}

func (g *gateways) lookup(id string) ([]byte, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h, ok := g.hashes[id]
	return h, ok
}

// env is a cluster running the shipped accounts.conf and callout.conf
// (placeholders replaced) with ingest's callout service on node 1.
type env struct {
	c        *natstest.Cluster
	gws      *gateways
	reg      *prometheus.Registry
	ingest   nats.Option
	stop     func()
	served   chan error
	decision func(decision, reason string) float64
}

func start(t *testing.T, nodes int) *env {
	t.Helper()
	accounts, err := os.ReadFile("../../deploy/nats/accounts.conf")
	if err != nil {
		t.Fatal(err)
	}
	callout, err := os.ReadFile("../../deploy/nats/callout.conf")
	if err != nil {
		t.Fatal(err)
	}
	for what, ph := range map[string]string{"accounts.conf": ingestPlaceholder, "callout.conf": issuerPlaceholder} {
		if !strings.Contains(string(accounts)+string(callout), ph) {
			t.Fatalf("%s no longer holds %s: update this test", what, ph)
		}
	}
	seedFile := filepath.Join(t.TempDir(), "issuer.nk")
	pub, err := natscallout.WriteIssuer(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := natscallout.LoadIssuer(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	password := testenv.Secret(t)
	conf := strings.ReplaceAll(string(accounts), ingestPlaceholder, password) + "\n" +
		strings.ReplaceAll(string(callout), issuerPlaceholder, pub)
	e := &env{gws: &gateways{hashes: map[string][]byte{}}, reg: prometheus.NewRegistry(),
		ingest: nats.UserInfo("ponte-ingest", password), served: make(chan error, 1)}
	e.c = natstest.Start(t, natstest.Options{Nodes: nodes, Config: conf})
	svc, err := natscallout.New(natscallout.Config{Issuer: issuer, Topics: topics, Lookup: e.gws.lookup,
		Workers: 2, Logger: testenv.Logger(t, 0), Registerer: e.reg})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Issuer() != pub {
		t.Fatalf("service's issuer %s; want %s", svc.Issuer(), pub)
	}
	e.decision = func(decision, reason string) float64 {
		return counter(t, e.reg, decision, reason)
	}
	nc, err := nats.Connect(e.c.Nodes[0].URL, e.ingest, nats.Name("callout-test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-e.served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	go func() { e.served <- svc.Serve(ctx, nc) }()
	t.Cleanup(e.stop)
	// Serve subscribed once a round trip after it started.
	testenv.Eventually(t, 10*time.Second, "the callout subscribed", func() bool {
		return nc.Flush() == nil && nc.NumSubscriptions() == 1
	})
	return e
}

func counter(t testing.TB, reg *prometheus.Registry, decision, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ponte_ingest_nats_callout_decisions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var d, r string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "decision":
					d = l.GetValue()
				case "reason":
					r = l.GetValue()
				}
			}
			if d == decision && r == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// connect makes one MQTT connection attempt as the edge's uplink does
// (paho, MQTT 3.1.1, persistent session) and returns the client, or the
// CONNACK code that refused it.
func connect(t testing.TB, url, clientID, user, password string) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(clientID).SetUsername(user).SetPassword(password).
		SetProtocolVersion(4).SetCleanSession(false).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(20 * time.Second)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(30 * time.Second) {
		t.Fatalf("connect %s as %s: no CONNACK within 30s", url, user)
	}
	if err := tok.Error(); err != nil {
		return nil, &refused{code: tok.(*paho.ConnectToken).ReturnCode(), err: err}
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c, nil
}

type refused struct {
	code byte
	err  error
}

func (r *refused) Error() string { return r.err.Error() }

// requireRefused fails t unless err is a CONNACK refusing the login
// (bad username or password, or not authorised).
func requireRefused(t testing.TB, what string, err error) {
	t.Helper()
	var r *refused
	switch {
	case err == nil:
		t.Errorf("%s: connected; want refused", what)
	case !errors.As(err, &r) || (r.code != 4 && r.code != 5):
		t.Errorf("%s: %v; want a CONNACK refusing the login (code 4 or 5)", what, err)
	}
}

// TestEnrolledGateway: on a three-node cluster with the callout on node
// 1, a gateway enrolled with ingest logs in over MQTT on node 3 and may
// publish only its own uplink and subscribe only to its own acks.
func TestEnrolledGateway(t *testing.T) {
	e := start(t, 3)
	const gw, other = "fi-lighting-q2-0042", "ba.centro.02" // a '.' in an ID is "//" in its subjects
	e.gws.enrol(t, gw, "pw-"+gw)
	e.gws.enrol(t, other, "pw-"+other)

	// Ingest's view: the uplink stream it consumes (as ponte-ingest).
	js := natstest.JetStream(t, e.c.Nodes[1].URL, e.ingest)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "UP", Subjects: []string{"ponte.gw.*.up"}, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}

	c, err := connect(t, e.c.Nodes[2].MQTT, "ponte-edge-"+gw, gw, "pw-"+gw)
	if err != nil {
		t.Fatalf("enrolled gateway refused: %v", err)
	}
	if _, err := subscribe(c, topics.Ack(gw)); err != nil {
		t.Errorf("its own acks: %v", err)
	}
	if code, err := subscribe(c, topics.Ack(other)); err == nil {
		t.Errorf("subscription to %s granted (SUBACK %#x); want refused", topics.Ack(other), code)
	}
	// Another's topic first, then its own: the server handles one
	// connection's publishes in order, so once its own is stored the
	// other's would have been.
	for _, topic := range []string{topics.Up(other), topics.Up(gw)} {
		if tok := c.Publish(topic, 1, false, []byte(topic)); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("publish on %s: %v", topic, tok.Error())
		}
	}
	testenv.Eventually(t, 30*time.Second, "its own batch in the uplink stream", func() bool {
		_, err := stream.GetLastMsgForSubject(ctx, "ponte.gw."+gw+".up")
		return err == nil
	})
	if m, err := stream.GetLastMsgForSubject(ctx, "ponte.gw.ba//centro//02.up"); err == nil {
		t.Errorf("%s published on %s's uplink: %q stored", gw, other, m.Data)
	} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatal(err)
	}
	if n := e.decision("allowed", natscallout.ReasonOK); n < 1 {
		t.Errorf("allowed counted %v; want at least 1", n)
	}
}

// subscribe subscribes c to topic at QoS 1 and returns the SUBACK's code,
// with an error when it refused.
func subscribe(c paho.Client, topic string) (byte, error) {
	tok := c.Subscribe(topic, 1, func(paho.Client, paho.Message) {})
	if !tok.WaitTimeout(30 * time.Second) {
		return 0, errors.New("no SUBACK within 30s")
	}
	if err := tok.Error(); err != nil {
		return 0, err
	}
	code := tok.(*paho.SubscribeToken).Result()[topic]
	if code >= 0x80 {
		return code, errors.New("refused")
	}
	return code, nil
}

// TestRefused: a wrong password, an unknown user, a revoked gateway, a
// client ID not the gateway's, and a NATS (not MQTT) client with a
// gateway's password are refused; each refusal counted by reason.
func TestRefused(t *testing.T) {
	e := start(t, 1)
	const gw = "gw1"
	e.gws.enrol(t, gw, "pw-gw1")
	url := e.c.Nodes[0].MQTT

	_, err := connect(t, url, gw, gw, "wrong")
	requireRefused(t, "wrong password", err)
	_, err = connect(t, url, "stranger", "stranger", "pw-gw1")
	requireRefused(t, "unknown user", err)
	_, err = connect(t, url, "someone-else", gw, "pw-gw1")
	requireRefused(t, "another client ID", err)
	if nc, err := nats.Connect(e.c.Nodes[0].URL, nats.UserInfo(gw, "pw-gw1"), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Error("NATS client with a gateway's password: connected; want refused")
	}

	c, err := connect(t, url, gw, gw, "pw-gw1")
	if err != nil {
		t.Fatalf("enrolled gateway refused: %v", err)
	}
	c.Disconnect(50)
	e.gws.revoke(gw)
	_, err = connect(t, url, gw, gw, "pw-gw1")
	requireRefused(t, "revoked gateway", err)

	for reason, want := range map[string]float64{natscallout.ReasonPassword: 1, natscallout.ReasonUnknown: 2,
		natscallout.ReasonClientID: 1, natscallout.ReasonNotMQTT: 1} {
		if got := e.decision("refused", reason); got != want {
			t.Errorf("refused for %s counted %v; want %v", reason, got, want)
		}
	}
	if got := e.decision("allowed", natscallout.ReasonOK); got != 1 {
		t.Errorf("allowed counted %v; want 1", got)
	}
}

// TestServiceDown: with no callout service answering, a gateway with the
// right password is refused (the callout fails closed), and accepted
// again once a service answers.
func TestServiceDown(t *testing.T) {
	e := start(t, 1)
	e.gws.enrol(t, "gw1", "pw-gw1")
	e.stop()
	_, err := connect(t, e.c.Nodes[0].MQTT, "gw1", "gw1", "pw-gw1")
	requireRefused(t, "callout down", err)
	if n := testutil.CollectAndCount(e.reg); n != 0 {
		t.Errorf("%d decisions counted while the service was down", n)
	}
}

// TestLoadIssuer: the seed file's problems are named, without the seed.
func TestLoadIssuer(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "issuer.nk")
	if _, err := natscallout.WriteIssuer(path); err != nil {
		t.Fatal(err)
	}
	testenv.RequireMode(t, 0o600, path)
	if _, err := natscallout.WriteIssuer(path); err == nil {
		t.Error("WriteIssuer replaced an existing seed")
	}
	user, _ := nkeys.CreateUser()
	userSeed, _ := user.Seed()
	for name, c := range map[string]struct {
		data string
		mode os.FileMode
		want string
	}{
		"world-readable": {data: "", mode: 0o644, want: "lets every user read it"},
		"not a seed":     {data: "hello\n", mode: 0o600, want: "not an nkey seed"},
		"user seed":      {data: string(userSeed) + "\n", mode: 0o600, want: "not an account seed"},
	} {
		t.Run(name, func(t *testing.T) {
			p := path
			if c.data != "" {
				p = filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
				testenv.WriteFile(t, p, c.data)
			}
			if err := os.Chmod(p, c.mode); err != nil {
				t.Fatal(err)
			}
			defer os.Chmod(p, 0o600)
			_, err := natscallout.LoadIssuer(p)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("LoadIssuer: %v; want an error naming %s and saying %q", err, p, c.want)
			}
			if c.data != "" && strings.Contains(err.Error(), strings.TrimSpace(c.data)) {
				t.Errorf("the error shows the file's content: %v", err)
			}
		})
	}
}
