package broker_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/broker"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/wire"
)

var quiet = slog.New(slog.DiscardHandler)

// Test credentials (at least 16 characters, as secrets must be).
const (
	pw1    = "gw1-password-0123456789"
	pw2    = "gw2-password-0123456789"
	pw3    = "gw3-password-0123456789" // configured only as hash3
	hash3  = "$2a$04$VDDKqnybAAm/AXsRGw/FUeBCho0JmxDGxySr7lh3hwasOwhlWJJrW"
	ipw    = "ingest-password-0123456789"
	wrong  = "wrong-password-0123456789"
	prefix = "city"
)

func start(t *testing.T) *broker.Broker {
	t.Helper()
	b, _ := startWith(t, nil)
	return b
}

// startWith starts a broker with gateways gw1, gw2 and gw3 (hashed), mod
// applied to its config; it returns the registry of its metrics.
func startWith(t *testing.T, mod func(*broker.Config)) (*broker.Broker, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := broker.Config{
		Listen:        "127.0.0.1:0",
		Topics:        wire.Topics{Prefix: prefix},
		Gateways:      map[string]string{"gw1": pw1, "gw2": pw2},
		GatewayHashes: map[string][]byte{"gw3": []byte(hash3)},
		IngestUser:    "ingest", IngestPassword: ipw,
		Registerer: reg,
		Logger:     quiet,
	}
	if mod != nil {
		mod(&cfg)
	}
	b, err := broker.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.Close(ctx)
	})
	return b, reg
}

func connect(url, id, user, pass string) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetUsername(user).SetPassword(pass).
		SetAutoReconnect(false).SetProtocolVersion(4).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(o)
	tok := c.Connect()
	tok.WaitTimeout(10 * time.Second)
	return c, tok.Error()
}

func TestAuthenticate(t *testing.T) {
	b := start(t)
	tests := []struct {
		name, user, pass string
		ok               bool
	}{
		{"gateway", "gw1", pw1, true},
		{"gateway with a hashed password", "gw3", pw3, true},
		{"hashed, wrong password", "gw3", pw1, false},
		{"the hash itself as password", "gw3", hash3, false},
		{"ingest", "ingest", ipw, true},
		{"wrong password", "gw1", pw2, false},
		{"unknown user", "gw9", pw1, false},
		{"anonymous", "", "", false},
		{"ingest wrong password", "ingest", pw1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.user
			if tc.user == "ingest" || tc.user == "" {
				id = "ingest-test"
			}
			c, err := connect(b.URL(), id, tc.user, tc.pass)
			if (err == nil) != tc.ok {
				t.Fatalf("connect as %q: err %v, want ok=%v", tc.user, err, tc.ok)
			}
			if err == nil {
				c.Disconnect(100)
			}
		})
	}
}

type inbox struct {
	mu   sync.Mutex
	msgs []string
}

func (in *inbox) add(_ paho.Client, m paho.Message) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.msgs = append(in.msgs, m.Topic()+" "+string(m.Payload()))
}

func (in *inbox) get() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.msgs...)
}

func TestACL(t *testing.T) {
	b := start(t)
	topics := wire.Topics{Prefix: prefix}
	ing, err := connect(b.URL(), "ingest-1", "ingest", ipw)
	if err != nil {
		t.Fatal(err)
	}
	defer ing.Disconnect(100)
	var got inbox
	if tok := ing.Subscribe(topics.UpFilter("ponte-ingest"), 1, got.add); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("ingest subscribe: %v", tok.Error())
	}

	gw1, err := connect(b.URL(), "gw1", "gw1", pw1)
	if err != nil {
		t.Fatal(err)
	}
	defer gw1.Disconnect(100)
	// Own topic: delivered.
	if tok := gw1.Publish(topics.Up("gw1"), 1, false, "own"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish own: %v", tok.Error())
	}
	// Own ack: may subscribe; other's ack: refused.
	var acks inbox
	tok := gw1.Subscribe(topics.Ack("gw1"), 1, acks.add)
	tok.WaitTimeout(5 * time.Second)
	if r := tok.(*paho.SubscribeToken).Result()[topics.Ack("gw1")]; r != 1 {
		t.Errorf("subscribe own ack: code %d, want 1", r)
	}
	tok = gw1.Subscribe(topics.Ack("gw2"), 1, acks.add)
	tok.WaitTimeout(5 * time.Second)
	if r := tok.(*paho.SubscribeToken).Result()[topics.Ack("gw2")]; r != 0x80 {
		t.Errorf("subscribe other's ack: code %d, want 0x80", r)
	}
	tok = gw1.Subscribe(topics.UpFilter(""), 1, acks.add)
	tok.WaitTimeout(5 * time.Second)
	if r := tok.(*paho.SubscribeToken).Result()[topics.UpFilter("")]; r != 0x80 {
		t.Errorf("subscribe every up topic: code %d, want 0x80", r)
	}
	if tok := ing.Publish(topics.Ack("gw2"), 1, false, "for gw2"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if tok := ing.Publish(topics.Ack("gw1"), 1, false, "for gw1"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	// Delivery to gw1 is asynchronous: let its own ack arrive before the
	// forgery below gets it disconnected.
	testenv.Eventually(t, 10*time.Second, "gw1's own ack", func() bool { return len(acks.get()) > 0 })
	// Another's topic: refused, and the QoS 1 publisher is disconnected.
	gw1.Publish(topics.Up("gw2"), 1, false, "forged").WaitTimeout(2 * time.Second)
	testenv.Eventually(t, 10*time.Second, "gw1 disconnected after publishing under gw2's ID", func() bool { return !gw1.IsConnectionOpen() })
	time.Sleep(200 * time.Millisecond)
	msgs := got.get()
	if len(msgs) != 1 || msgs[0] != topics.Up("gw1")+" own" {
		t.Errorf("ingest received %q, want only gw1's own batch", msgs)
	}
	if a := acks.get(); len(a) != 1 || a[0] != topics.Ack("gw1")+" for gw1" {
		t.Errorf("gw1 received %q, want only its own ack", a)
	}
}

// TestCommandACL: a gateway reads only its own command topic and
// reports only on its own report topic (issue 16); the embedded broker
// refuses the other gateway's subscription in the SUBACK.
func TestCommandACL(t *testing.T) {
	b := start(t)
	topics := wire.Topics{Prefix: prefix}
	ingesttest.CheckCommandACL(t, b.URL(), topics, ingesttest.Creds{User: "ingest", Password: ipw},
		ingesttest.Creds{User: "gw1", Password: pw1}, ingesttest.Creds{User: "gw2", Password: pw2})
	gw2, err := connect(b.URL(), "gw2", "gw2", pw2)
	if err != nil {
		t.Fatal(err)
	}
	defer gw2.Disconnect(100)
	tok := gw2.Subscribe(topics.Cmd("gw1"), 1, nil)
	tok.WaitTimeout(5 * time.Second)
	if r := tok.(*paho.SubscribeToken).Result()[topics.Cmd("gw1")]; r != 0x80 {
		t.Errorf("gw2 subscribing gw1's commands: SUBACK %#x, want 0x80", r)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  broker.Config
	}{
		{"no ingest user", broker.Config{IngestPassword: "x"}},
		{"bad gateway id", broker.Config{IngestUser: "i", IngestPassword: "x", Gateways: map[string]string{"a/b": "p"}}},
		{"empty password", broker.Config{IngestUser: "i", IngestPassword: "x", Gateways: map[string]string{"a": ""}}},
		{"gateway named as ingest", broker.Config{IngestUser: "i", IngestPassword: "x", Gateways: map[string]string{"i": "p"}}},
		{"not a bcrypt hash", broker.Config{IngestUser: "i", IngestPassword: "x", GatewayHashes: map[string][]byte{"a": []byte("md5:abc")}}},
		{"password and hash", broker.Config{IngestUser: "i", IngestPassword: "x", Gateways: map[string]string{"a": "p"},
			GatewayHashes: map[string][]byte{"a": []byte("$2a$04$yDt6ORm.HM/T227Jk.CDvOXQjEsWKLy0kj/5hrNGoun5nvwrQ/gri")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); err == nil {
				t.Fatal("Validate succeeded")
			}
		})
	}
	b := start(t)
	if _, err := broker.Start(broker.Config{Listen: b.Addr(), IngestUser: "i", IngestPassword: "x", Logger: quiet}); err == nil {
		t.Error("Start on a port in use succeeded")
	}
}

// TestCloseWhileConnecting: gateways reconnecting while the broker stops
// (as every gateway does when ingest restarts) do not race its shutdown,
// and a socket that never sends CONNECT does not hold Close until its
// connect deadline. Run with -race: mochi adds to its clients' WaitGroup
// inside each connection while Close waits on it, so the listener must
// let no connection reach mochi once Close has begun.
func TestCloseWhileConnecting(t *testing.T) {
	for round := 0; round < 20; round++ {
		b, _ := startWith(t, func(c *broker.Config) { c.Limits.ConnectTimeout = time.Minute })
		silent, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					c, err := connect(b.URL(), fmt.Sprintf("gw%d", i%3+1), fmt.Sprintf("gw%d", i%3+1), pw1)
					if err == nil {
						c.Disconnect(0)
					}
				}
			}()
		}
		time.Sleep(20 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = b.Close(ctx)
		cancel()
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatalf("round %d: %v (a socket without CONNECT held Close)", round, err)
		}
	}
}
