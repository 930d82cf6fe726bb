package intake_test

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/intake"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// shippedBroker is Mosquitto run with deploy/mosquitto/ponte.conf and
// ponte.acl as shipped, adapted only for ports and file paths.
type shippedBroker struct {
	// GatewayURL is the gateways' TLS listener (shipped on 8883), where
	// a gateway's certificate CN is its username and its client ID.
	GatewayURL string
	// IngestURL is ingest's password listener (shipped on 127.0.0.1:1884).
	IngestURL string
	// IngestPassword is ponte-ingest's password.
	IngestPassword string
	dir            string
	ca             *x509.Certificate
	caKey          *ecdsa.PrivateKey
	pool           *x509.CertPool
}

// startShippedMosquitto writes the shipped configuration with test ports
// and paths, a test CA with the broker's certificate, and a password file
// for ponte-ingest, and starts Mosquitto with them.
func startShippedMosquitto(t *testing.T) *shippedBroker {
	t.Helper()
	bin := testenv.Need(t, "mosquitto", "apt-get install mosquitto")
	passwd := testenv.Need(t, "mosquitto_passwd", "apt-get install mosquitto")
	conf, err := os.ReadFile("../../deploy/mosquitto/ponte.conf")
	if err != nil {
		t.Fatal(err)
	}
	acl, err := os.ReadFile("../../deploy/mosquitto/ponte.acl")
	if err != nil {
		t.Fatal(err)
	}
	// Mosquitto started as root runs as user mosquitto: it must read the
	// files and write its persistence directory.
	dir, err := os.MkdirTemp("", "ponte-shipped-mosquitto-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	for d, mode := range map[string]os.FileMode{dir: 0o755, data: 0o777} {
		if err := os.MkdirAll(d, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
	}
	sb := &shippedBroker{dir: dir, IngestPassword: "ingest-test-password-1"}
	sb.ca, sb.caKey = testenv.Issue(t, nil, nil, "ponte test CA", true, testenv.Loopback)
	sb.pool = x509.NewCertPool()
	sb.pool.AddCert(sb.ca)
	srv, srvKey := testenv.Issue(t, sb.ca, sb.caKey, "broker", false, testenv.Loopback)
	testenv.WriteCert(t, filepath.Join(dir, "ca.pem"), sb.ca)
	testenv.WriteCert(t, filepath.Join(dir, "broker.pem"), srv)
	testenv.WriteKey(t, filepath.Join(dir, "broker.key"), srvKey)
	if err := os.WriteFile(filepath.Join(dir, "ponte.acl"), acl, 0o644); err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "ponte.passwd")
	if out, err := exec.Command(passwd, "-b", "-c", pw, "ponte-ingest", sb.IngestPassword).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	if err := os.Chmod(pw, 0o644); err != nil {
		t.Fatal(err)
	}

	gwPort, ingestPort := testenv.FreePort(t), testenv.FreePort(t)
	sb.GatewayURL = fmt.Sprintf("ssl://127.0.0.1:%d", gwPort)
	sb.IngestURL = fmt.Sprintf("tcp://127.0.0.1:%d", ingestPort)
	text := string(conf)
	for _, r := range []struct{ old, new string }{
		{"\nlistener 8883\n", fmt.Sprintf("\nlistener %d 127.0.0.1\n", gwPort)},
		{"\nlistener 1884 127.0.0.1\n", fmt.Sprintf("\nlistener %d 127.0.0.1\n", ingestPort)},
	} {
		if strings.Count(text, r.old) != 1 {
			t.Fatalf("deploy/mosquitto/ponte.conf has no line %q: update this test with the shipped listeners", strings.TrimSpace(r.old))
		}
		text = strings.Replace(text, r.old, r.new, 1)
	}
	// Every file the shipped configuration names is under /etc/mosquitto.
	paths := regexp.MustCompile(`(?m)^(\w+) /etc/mosquitto/\S*?([^/\s]+)$`)
	if n := len(paths.FindAllString(text, -1)); n != 5 {
		t.Fatalf("deploy/mosquitto/ponte.conf names %d files under /etc/mosquitto, want 5 (cafile, certfile, keyfile, password_file, acl_file): update this test", n)
	}
	text = paths.ReplaceAllString(text, "$1 "+filepath.Join(dir, "$2"))
	// Debian's main mosquitto.conf sets where persistence is written.
	text += "persistence_location " + data + "/\n"
	path := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mosquitto configuration:\n%s", text)
		}
	})
	mosq := testenv.NewProcess(t, "mosquitto", bin, "-c", path, "-v")
	mosq.ReadyTimeout = 10 * time.Second
	gwUp, ingestUp := testenv.TCPOpen(fmt.Sprintf("127.0.0.1:%d", gwPort)), testenv.TCPOpen(fmt.Sprintf("127.0.0.1:%d", ingestPort))
	mosq.Ready = func() bool { return gwUp() && ingestUp() }
	mosq.Start()
	return sb
}

// gatewayTLS returns a TLS configuration with a client certificate whose
// CN is gateway, issued by the broker's CA.
func (sb *shippedBroker) gatewayTLS(t *testing.T, gateway string) *tls.Config {
	t.Helper()
	cert, key := testenv.Issue(t, sb.ca, sb.caKey, gateway, false, testenv.Loopback)
	return &tls.Config{RootCAs: sb.pool, MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}}}
}

// mqttClient is a test client that records what it receives.
type mqttClient struct {
	paho.Client
	mu   sync.Mutex
	got  []paho.Message
	lost int
}

// clientOpts are a test client's connection options; the client does not
// reconnect by itself (a test sees it lose its connection).
func clientOpts(url, clientID string) *paho.ClientOptions {
	return paho.NewClientOptions().AddBroker(url).SetClientID(clientID).SetCleanSession(true).
		SetAutoReconnect(false).SetStore(intake.MemoryStore()).SetConnectTimeout(10 * time.Second)
}

// connectClient connects with o, recording every message and lost
// connection; it returns the CONNECT's error.
func connectClient(t *testing.T, o *paho.ClientOptions) (*mqttClient, error) {
	t.Helper()
	c := &mqttClient{}
	o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		c.mu.Lock()
		c.got = append(c.got, m)
		c.mu.Unlock()
	}).SetConnectionLostHandler(func(paho.Client, error) {
		c.mu.Lock()
		c.lost++
		c.mu.Unlock()
	})
	c.Client = paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect: timeout")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

func mustConnect(t *testing.T, o *paho.ClientOptions) *mqttClient {
	t.Helper()
	c, err := connectClient(t, o)
	if err != nil {
		t.Fatalf("connect %s: %v", o.ClientID, err)
	}
	return c
}

// received returns the messages received on topic so far.
func (c *mqttClient) received(topic string) []paho.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ms []paho.Message
	for _, m := range c.got {
		if m.Topic() == topic {
			ms = append(ms, m)
		}
	}
	return ms
}

func (c *mqttClient) lostCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

func (c *mqttClient) subscribe(t *testing.T, filter string) byte {
	t.Helper()
	tok := c.Subscribe(filter, 1, nil)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return tok.(*paho.SubscribeToken).Result()[filter]
}

// publish publishes at QoS 1 and waits for the broker's PUBACK: once it
// returns, the broker has delivered the message to its subscribers'
// queues or dropped it.
func (c *mqttClient) publish(t *testing.T, topic string, retained bool, payload []byte) {
	t.Helper()
	if tok := c.Publish(topic, 1, retained, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// roundTrip checks that c still has its connection and session: it
// subscribes to a topic of its own and receives what it publishes there.
func (c *mqttClient) roundTrip(t *testing.T, topic string) {
	t.Helper()
	c.subscribe(t, topic)
	payload := fmt.Sprintf("rt-%d", time.Now().UnixNano())
	c.publish(t, topic, false, []byte(payload))
	testenv.Eventually(t, 10*time.Second, "round trip on "+topic, func() bool {
		for _, m := range c.received(topic) {
			if string(m.Payload()) == payload {
				return true
			}
		}
		return false
	})
}

// acks decodes the acks c received on gateway's ack topic.
func (c *mqttClient) acks(gateway string) []wire.Ack {
	var as []wire.Ack
	for _, m := range c.received(topics.Ack(gateway)) {
		if a, err := wire.DecodeAck(m.Payload()); err == nil {
			as = append(as, a)
		}
	}
	return as
}

// sendBatch publishes seqs [first, last] of gateway's epoch 42 on
// gateway's up topic and waits until ingest acknowledges last on
// gateway's ack topic.
func (c *mqttClient) sendBatch(t *testing.T, gateway string, first, last uint64) {
	t.Helper()
	c.publish(t, topics.Up(gateway), false, ingesttest.BatchFor(gateway, 42, first, last))
	testenv.Eventually(t, 20*time.Second, fmt.Sprintf("ack of %s seq %d", gateway, last), func() bool {
		for _, a := range c.acks(gateway) {
			if a.Epoch == 42 && a.Seq >= last {
				return true
			}
		}
		return false
	})
}

// statusLog records the statuses ingest's intake passes on.
type statusLog struct {
	mu  sync.Mutex
	all []wire.Status
}

func (s *statusLog) add(st wire.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, st)
}

func (s *statusLog) find(gateway, state string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.all {
		if st.Gateway == gateway && st.State == state {
			return true
		}
	}
	return false
}

// forged is the seq of every forged ack: no real ack reaches it.
const forged = 1 << 40

// TestShippedMosquitto runs ingest and gateways against Mosquitto with
// the shipped configuration and ACL: ingest's flows work (batches, acks,
// statuses, its probes), and a gateway can act neither as another gateway
// nor as ingest. Mosquitto acknowledges a publish its ACL refuses and
// drops it, so each refusal is shown by what subscribers receive: a
// message from one client reaches a subscriber in order, so once a later
// marker arrived, the refused message would have arrived before it.
func TestShippedMosquitto(t *testing.T) {
	sb := startShippedMosquitto(t)
	logs := &logBuffer{}
	statuses := &statusLog{}
	sink := ingesttest.NewMemSink()
	p := startPipeline(t, pipeOpts{url: sb.IngestURL, clientID: "ponte-ingest-a", user: "ponte-ingest", pass: sb.IngestPassword,
		sink: sink, probe: 50 * time.Millisecond, log: logs.logger(), onStatus: statuses.add})
	// observer reads everything ingest may read, without sharing.
	observer := mustConnect(t, clientOpts(sb.IngestURL, "observer").SetUsername("ponte-ingest").SetPassword(sb.IngestPassword))
	observer.subscribe(t, "ponte/gw/+/up")
	observer.subscribe(t, "ponte/gw/+/status")
	gw := map[string]*mqttClient{}
	for _, id := range []string{"gw1", "gw2"} {
		gw[id] = mustConnect(t, clientOpts(sb.GatewayURL, "ponte-edge-"+id).SetTLSConfig(sb.gatewayTLS(t, id)))
		gw[id].subscribe(t, topics.Ack(id))
	}

	t.Run("ingest flows", func(t *testing.T) {
		gw["gw1"].sendBatch(t, "gw1", 1, 10)
		gw["gw2"].sendBatch(t, "gw2", 1, 10)
		gw["gw2"].publish(t, topics.Status("gw2"), true, wire.EncodeStatus(wire.Status{Gateway: "gw2", State: wire.StateOnline, Time: time.Now()}))
		testenv.Eventually(t, 10*time.Second, "ingest receives gw2's status", func() bool { return statuses.find("gw2", wire.StateOnline) })
		if !p.mqtt.Connected() {
			t.Error("ingest's intake reports not connected")
		}
	})

	t.Run("no ingest instance takes another's session", func(t *testing.T) {
		// Two instances: same user, their own client IDs. Were client IDs
		// replaced by the username on this listener, the second would
		// take the first's session over.
		a := mustConnect(t, clientOpts(sb.IngestURL, "ponte-ingest-x").SetUsername("ponte-ingest").SetPassword(sb.IngestPassword))
		b := mustConnect(t, clientOpts(sb.IngestURL, "ponte-ingest-y").SetUsername("ponte-ingest").SetPassword(sb.IngestPassword))
		a.roundTrip(t, "ponte/ingest/ponte-ingest-x/probe")
		b.roundTrip(t, "ponte/ingest/ponte-ingest-y/probe")
		if a.lostCount()+b.lostCount() != 0 {
			t.Errorf("ingest instances lost their connections %d and %d times", a.lostCount(), b.lostCount())
		}
		// A gateway that claims an ingest instance's client ID gets its
		// own (its CN) instead: the instance keeps its session.
		imp := mustConnect(t, clientOpts(sb.GatewayURL, "ponte-ingest-x").SetTLSConfig(sb.gatewayTLS(t, "gw3")))
		imp.publish(t, topics.Up("gw3"), false, []byte("x")) // a full round trip on the impostor's connection
		a.roundTrip(t, "ponte/ingest/ponte-ingest-x/probe2")
		if a.lostCount() != 0 {
			t.Errorf("a gateway connecting with client ID ponte-ingest-x knocked the ingest instance off")
		}
	})

	t.Run("a gateway cannot knock another off", func(t *testing.T) {
		// gw3's certificate, gw2's client ID: the broker uses gw3.
		imp := mustConnect(t, clientOpts(sb.GatewayURL, "ponte-edge-gw2").SetTLSConfig(sb.gatewayTLS(t, "gw3")))
		imp.publish(t, topics.Up("gw3"), false, []byte("x"))
		gw["gw2"].sendBatch(t, "gw2", 11, 20)
		if n := gw["gw2"].lostCount(); n != 0 {
			t.Errorf("gw2 lost its connection %d times", n)
		}
	})

	t.Run("forged batches and statuses", func(t *testing.T) {
		g1 := gw["gw1"]
		g1.publish(t, topics.Up("gw2"), false, ingesttest.BatchFor("gw2", 7, 1, 5))
		g1.publish(t, topics.Status("gw2"), false, wire.EncodeStatus(wire.Status{Gateway: "gw2", State: wire.StateOffline, Time: time.Now()}))
		g1.publish(t, topics.Status("gw1"), false, wire.EncodeStatus(wire.Status{Gateway: "gw1", State: wire.StateOnline, Time: time.Now()}))
		g1.sendBatch(t, "gw1", 11, 20) // the marker, after the forgeries
		testenv.Eventually(t, 10*time.Second, "observer receives gw1's batch", func() bool { return len(observer.received(topics.Up("gw1"))) > 0 })
		testenv.Eventually(t, 10*time.Second, "ingest receives gw1's status", func() bool { return statuses.find("gw1", wire.StateOnline) })
		if n := len(observer.received(topics.Up("gw2"))); n != 2 { // gw2's own batches, 1-10 and 11-20
			t.Errorf("%d batches reached a subscriber of gw2's up topic, want gw2's own 2", n)
		}
		if statuses.find("gw2", wire.StateOffline) {
			t.Error("ingest received the offline status gw1 forged for gw2")
		}
		for _, m := range observer.received(topics.Status("gw2")) {
			if st, _ := wire.DecodeStatus(m.Payload()); st.State == wire.StateOffline {
				t.Error("a subscriber received the offline status gw1 forged for gw2")
			}
		}
		for k := range p.applier.Counts() {
			if k.Gateway == "gw2" && k.Epoch == 7 {
				t.Fatalf("ingest applied a reading of the batch gw1 forged for gw2: %+v", k)
			}
		}
	})

	t.Run("forged acks", func(t *testing.T) {
		ack := func(gateway string) []byte {
			return wire.EncodeAck(wire.Ack{Gateway: gateway, Epoch: 42, Seq: forged})
		}
		gw["gw1"].publish(t, topics.Ack("gw2"), false, ack("gw2"))
		gw["gw1"].publish(t, topics.Ack("gw1"), false, ack("gw1"))
		// A later ack from ingest reaches each gateway after any forgery.
		gw["gw2"].sendBatch(t, "gw2", 21, 30)
		gw["gw1"].sendBatch(t, "gw1", 21, 30)
		for _, id := range []string{"gw1", "gw2"} {
			for _, a := range gw[id].acks(id) {
				if a.Seq == forged {
					t.Errorf("%s received an ack forged by gw1", id)
				}
			}
		}
	})

	t.Run("subscribing to another gateway's acks", func(t *testing.T) {
		code := gw["gw1"].subscribe(t, topics.Ack("gw2"))
		t.Logf("SUBACK code for gw1's subscription to gw2's acks: %#x", code)
		gw["gw2"].sendBatch(t, "gw2", 31, 40)
		// Ingest publishes gw1's next ack after gw2's on one connection.
		gw["gw1"].sendBatch(t, "gw1", 31, 40)
		if n := len(gw["gw1"].received(topics.Ack("gw2"))); n != 0 {
			t.Errorf("gw1 received %d of gw2's acks", n)
		}
	})

	t.Run("a will on another gateway's status", func(t *testing.T) {
		// gw3 sets a retained will on gw2's status topic and drops its
		// socket without DISCONNECT. Mosquitto 2.0 accepts the CONNECT and
		// checks the will against the ACL when it would send it.
		will := wire.EncodeStatus(wire.Status{Gateway: "gw2", State: wire.StateOffline, Time: time.Now()})
		var conn net.Conn
		var mu sync.Mutex
		o := clientOpts(sb.GatewayURL, "ponte-edge-gw3").SetTLSConfig(sb.gatewayTLS(t, "gw3")).
			SetBinaryWill(topics.Status("gw2"), will, 1, true).
			SetCustomOpenConnectionFn(func(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
				c, err := tls.Dial("tcp", u.Host, o.TLSConfig)
				mu.Lock()
				conn = c
				mu.Unlock()
				return c, err
			})
		_, err := connectClient(t, o)
		t.Logf("connect with a will on gw2's status: %v", err)
		if err == nil {
			mu.Lock()
			conn.Close()
			mu.Unlock()
		}
		// gw3 connects again (taking over what may be left of the old
		// connection: its will goes before this CONNACK, if at all) and
		// says it is online: the marker.
		again := mustConnect(t, clientOpts(sb.GatewayURL, "ponte-edge-gw3").SetTLSConfig(sb.gatewayTLS(t, "gw3")))
		again.publish(t, topics.Status("gw3"), false, wire.EncodeStatus(wire.Status{Gateway: "gw3", State: wire.StateOnline, Time: time.Now()}))
		testenv.Eventually(t, 10*time.Second, "observer receives gw3's marker", func() bool { return len(observer.received(topics.Status("gw3"))) > 0 })
		testenv.Eventually(t, 10*time.Second, "ingest receives gw3's marker", func() bool { return statuses.find("gw3", wire.StateOnline) })
		for _, m := range observer.received(topics.Status("gw2")) {
			if st, _ := wire.DecodeStatus(m.Payload()); st.State == wire.StateOffline {
				t.Error("a subscriber received the will gw3 set on gw2's status")
			}
		}
		if statuses.find("gw2", wire.StateOffline) {
			t.Error("ingest received the will gw3 set on gw2's status")
		}
		// The retained status is still gw2's own.
		fresh := mustConnect(t, clientOpts(sb.IngestURL, "fresh").SetUsername("ponte-ingest").SetPassword(sb.IngestPassword))
		fresh.subscribe(t, topics.Status("gw2"))
		testenv.Eventually(t, 10*time.Second, "the retained status of gw2", func() bool { return len(fresh.received(topics.Status("gw2"))) > 0 })
		for _, m := range fresh.received(topics.Status("gw2")) {
			if st, _ := wire.DecodeStatus(m.Payload()); st.State != wire.StateOnline {
				t.Errorf("gw2's retained status is %q, want its own online", st.State)
			}
		}
	})

	t.Run("ingest kept flowing", func(t *testing.T) {
		gw["gw1"].sendBatch(t, "gw1", 41, 50)
		gw["gw2"].sendBatch(t, "gw2", 41, 50)
		if n := logs.count("MQTT intake receives nothing") + logs.count("MQTT intake connection lost"); n != 0 {
			t.Errorf("ingest's intake lost its session %d times (its probes did not come back)", n)
		}
		if !p.mqtt.Connected() {
			t.Error("ingest's intake reports not connected")
		}
		if got := len(sink.Points()); got != 100 {
			t.Errorf("sink holds %d points, want gw1's and gw2's 50 each", got)
		}
	})
}
