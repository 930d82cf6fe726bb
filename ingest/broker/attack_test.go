package broker_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/broker"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// flow is a legitimate gateway (gw1) publishing batches and an
// ingest-like client acknowledging each on the gateway's ack topic.
type flow struct {
	acks, lost atomic.Int64
}

func startFlow(t *testing.T, b *broker.Broker) *flow {
	t.Helper()
	topics := wire.Topics{Prefix: prefix}
	f := &flow{}
	ing, err := connect(b.URL(), "ponte-ingest-1", "ingest", ipw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ing.Disconnect(50) })
	ackBack := func(c paho.Client, m paho.Message) {
		gw, _, err := topics.Gateway(m.Topic())
		if err == nil {
			c.Publish(topics.Ack(gw), 1, false, m.Payload())
		}
	}
	if tok := ing.Subscribe(topics.UpFilter("ponte-ingest"), 1, ackBack); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("ingest subscribe: %v", tok.Error())
	}
	o := paho.NewClientOptions().AddBroker(b.URL()).SetClientID("ponte-edge-gw1").SetUsername("gw1").SetPassword(pw1).
		SetAutoReconnect(false).SetProtocolVersion(4).SetConnectionLostHandler(func(paho.Client, error) { f.lost.Add(1) })
	gw := paho.NewClient(o)
	if tok := gw.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("gw1 connect: %v", tok.Error())
	}
	if tok := gw.Subscribe(topics.Ack("gw1"), 1, func(paho.Client, paho.Message) { f.acks.Add(1) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("gw1 subscribe: %v", tok.Error())
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			gw.Publish(topics.Up("gw1"), 1, false, fmt.Sprint(i))
		}
	}()
	t.Cleanup(func() { close(stop); wg.Wait(); gw.Disconnect(50) })
	f.keepsFlowing(t)
	return f
}

// keepsFlowing waits for 20 more acknowledgements and checks that the
// gateway never lost its connection.
func (f *flow) keepsFlowing(t *testing.T) {
	t.Helper()
	from := f.acks.Load()
	testenv.Eventually(t, 15*time.Second, "gw1's batches to be acknowledged", func() bool { return f.acks.Load() >= from+20 })
	if n := f.lost.Load(); n > 0 {
		t.Errorf("the legitimate gateway lost its connection %d times", n)
	}
}

func failures(reg *prometheus.Registry, listener, reason string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "ponte_ingest_auth_failures_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["listener"] == listener && l["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestIngestSessionTakeoverRefused: a gateway connecting with ingest's
// client ID and its own password is refused; ingest's session stays.
func TestIngestSessionTakeoverRefused(t *testing.T) {
	b, reg := startWith(t, nil)
	f := startFlow(t, b)
	for _, id := range []string{"ponte-ingest-1", "ponte-ingest-2", "anything"} {
		_, err := connect(b.URL(), id, "gw2", pw2)
		if !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
			t.Errorf("gw2 as client %q: %v, want %v", id, err, packets.ErrorRefusedNotAuthorised)
		}
	}
	if got := failures(reg, broker.ListenerPlain, broker.ReasonClientID); got != 3 {
		t.Errorf("client_id refusals: %v, want 3", got)
	}
	f.keepsFlowing(t)
}

// TestGatewayCannotKnockAnotherOff: gw2 connecting in a loop with gw1's
// client IDs is refused every time, and gw1 never loses its connection.
func TestGatewayCannotKnockAnotherOff(t *testing.T) {
	b, reg := startWith(t, func(c *broker.Config) {
		c.Limits.AddressFailures.Burst = 1000 // this test is about the binding, not throttling
		c.Limits.UserFailures.Burst = 1000
	})
	f := startFlow(t, b)
	for i := range 40 {
		id := []string{"gw1", "ponte-edge-gw1"}[i%2]
		if _, err := connect(b.URL(), id, "gw2", pw2); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
			t.Fatalf("gw2 as client %q: %v, want %v", id, err, packets.ErrorRefusedNotAuthorised)
		}
	}
	if got := failures(reg, broker.ListenerPlain, broker.ReasonClientID); got != 40 {
		t.Errorf("client_id refusals: %v, want 40", got)
	}
	f.keepsFlowing(t)
	// gw2 itself still may connect with its own IDs.
	for _, id := range []string{"gw2", "ponte-edge-gw2"} {
		c, err := connect(b.URL(), id, "gw2", pw2)
		if err != nil {
			t.Fatalf("gw2 as %q: %v", id, err)
		}
		c.Disconnect(50)
	}
}

// TestWillOnAnotherGatewayRefused: a will on another gateway's status
// topic is refused at CONNECT; on its own status topic it is accepted.
func TestWillOnAnotherGatewayRefused(t *testing.T) {
	b, reg := startWith(t, nil)
	f := startFlow(t, b)
	topics := wire.Topics{Prefix: prefix}
	will := func(topic string) error {
		o := paho.NewClientOptions().AddBroker(b.URL()).SetClientID("gw2").SetUsername("gw2").SetPassword(pw2).
			SetAutoReconnect(false).SetProtocolVersion(4).SetBinaryWill(topic, []byte("offline"), 1, true)
		c := paho.NewClient(o)
		tok := c.Connect()
		tok.WaitTimeout(5 * time.Second)
		if tok.Error() == nil {
			c.Disconnect(50)
		}
		return tok.Error()
	}
	if err := will(topics.Status("gw1")); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		t.Errorf("will on gw1's status: %v, want %v", err, packets.ErrorRefusedNotAuthorised)
	}
	if err := will(topics.Up("gw1")); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		t.Errorf("will on gw1's up topic: %v, want %v", err, packets.ErrorRefusedNotAuthorised)
	}
	if err := will(topics.Status("gw2")); err != nil {
		t.Errorf("will on its own status: %v", err)
	}
	if got := failures(reg, broker.ListenerPlain, broker.ReasonWill); got != 2 {
		t.Errorf("will refusals: %v, want 2", got)
	}
	f.keepsFlowing(t)
}

// TestOfflineSessionsCapped: 200 persistent sessions tried by a gateway
// (refused: not its client IDs) and by ingest's credential (capped).
func TestOfflineSessionsCapped(t *testing.T) {
	const max = 50
	b, reg := startWith(t, func(c *broker.Config) {
		c.Limits.MaxOfflineSessions = max
		c.Limits.AddressFailures.Burst = 1000
		c.Limits.UserFailures.Burst = 1000
	})
	f := startFlow(t, b)
	persistent := func(id, user, pass string) error {
		o := paho.NewClientOptions().AddBroker(b.URL()).SetClientID(id).SetUsername(user).SetPassword(pass).
			SetAutoReconnect(false).SetProtocolVersion(4).SetCleanSession(false)
		c := paho.NewClient(o)
		tok := c.Connect()
		tok.WaitTimeout(5 * time.Second)
		if tok.Error() != nil {
			return tok.Error()
		}
		if tok := c.Subscribe(wire.Topics{Prefix: prefix}.Ack("gw2"), 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			return fmt.Errorf("subscribe: %v", tok.Error())
		}
		c.Disconnect(50)
		return nil
	}
	for i := range 200 {
		if err := persistent(fmt.Sprintf("gw2-s%d", i), "gw2", pw2); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
			t.Fatalf("gw2 persistent session %d: %v, want %v", i, err, packets.ErrorRefusedNotAuthorised)
		}
	}
	admitted, full := 0, 0
	for i := range 200 {
		err := persistent(fmt.Sprintf("sess-%d", i), "ingest", ipw)
		switch {
		case err == nil:
			admitted++
		case errors.Is(err, packets.ErrorRefusedServerUnavailable):
			full++
		default:
			t.Fatalf("session %d: %v", i, err)
		}
		// Wait for the disconnect to register before the next one.
		testenv.Eventually(t, 15*time.Second, "the session to go offline", func() bool { _, off := b.Sessions(); return off >= min(admitted, max) })
	}
	_, offline := b.Sessions()
	t.Logf("admitted %d persistent sessions, refused %d, %d offline", admitted, full, offline)
	if admitted != max || full != 200-max || offline != max {
		t.Errorf("admitted %d, refused %d, offline %d; want %d, %d, %d", admitted, full, offline, max, 200-max, max)
	}
	if got := failures(reg, broker.ListenerPlain, broker.ReasonSessionsFull); got != 200-max {
		t.Errorf("sessions_full refusals: %v, want %d", got, 200-max)
	}
	// A session already held resumes although the cap is reached.
	if err := persistent("sess-0", "ingest", ipw); err != nil {
		t.Errorf("resuming a kept session: %v", err)
	}
	f.keepsFlowing(t)
}

// TestSocketsWithoutConnectClosed: sockets that never send CONNECT are
// closed after ConnectTimeout.
func TestSocketsWithoutConnectClosed(t *testing.T) {
	b, _ := startWith(t, func(c *broker.Config) { c.Limits.ConnectTimeout = 300 * time.Millisecond })
	f := startFlow(t, b)
	var conns []net.Conn
	for range 50 {
		c, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("socket %d: read %v, want closed by the broker", i, err)
		}
	}
	f.keepsFlowing(t)
}

// TestMaxClients: sockets beyond MaxClients are closed at once.
func TestMaxClients(t *testing.T) {
	b, _ := startWith(t, func(c *broker.Config) { c.Limits.MaxClients = 4 })
	f := startFlow(t, b) // 2 clients
	for range 2 {        // held open (closed at the end) to fill the cap
		c, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	_, err := connect(b.URL(), "gw2", "gw2", pw2)
	if err == nil {
		t.Fatal("a fifth client connected with max_clients 4")
	}
	f.keepsFlowing(t)
}

// TestBruteForceThrottled: failed logins beyond the budget are refused
// without checking the password; another gateway still connects.
func TestBruteForceThrottled(t *testing.T) {
	b, reg := startWith(t, func(c *broker.Config) {
		c.Limits.AddressFailures = broker.Budget{Burst: 5, Every: time.Hour}
		c.Limits.UserFailures = broker.Budget{Burst: 5, Every: time.Hour}
	})
	f := startFlow(t, b)
	attacker := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	bad, throttled := 0, 0
	for range 30 {
		o := paho.NewClientOptions().AddBroker(b.URL()).SetClientID("gw3").SetUsername("gw3").SetPassword(wrong).
			SetAutoReconnect(false).SetProtocolVersion(4).SetDialer(attacker)
		tok := paho.NewClient(o).Connect()
		tok.WaitTimeout(5 * time.Second)
		switch err := tok.Error(); {
		case errors.Is(err, packets.ErrorRefusedNotAuthorised):
			bad++
		case errors.Is(err, packets.ErrorRefusedServerUnavailable):
			throttled++
		default:
			t.Fatalf("guess: %v", err)
		}
	}
	if bad != 5 || throttled != 25 {
		t.Errorf("%d refused as bad credentials, %d throttled; want 5 and 25", bad, throttled)
	}
	if got, want := failures(reg, broker.ListenerPlain, broker.ReasonThrottled), 25.0; got != want {
		t.Errorf("ponte_ingest_auth_failures_total{reason=throttled} = %v, want %v", got, want)
	}
	if got, want := failures(reg, broker.ListenerPlain, broker.ReasonBadCredentials), 5.0; got != want {
		t.Errorf("ponte_ingest_auth_failures_total{reason=bad_credentials} = %v, want %v", got, want)
	}
	// The right password from the throttled address is refused too (the
	// password is not even checked).
	o := paho.NewClientOptions().AddBroker(b.URL()).SetClientID("gw2").SetUsername("gw2").SetPassword(pw2).
		SetAutoReconnect(false).SetProtocolVersion(4).SetDialer(attacker)
	if tok := paho.NewClient(o).Connect(); tok.WaitTimeout(5*time.Second) && !errors.Is(tok.Error(), packets.ErrorRefusedServerUnavailable) {
		t.Errorf("from the throttled address: %v, want throttled", tok.Error())
	}
	// A legitimate gateway from its own address connects.
	c, err := connect(b.URL(), "gw2", "gw2", pw2)
	if err != nil {
		t.Fatalf("legitimate connect: %v", err)
	}
	c.Disconnect(50)
	f.keepsFlowing(t)
}

// logs records log lines for assertions.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

func (l *logs) find(substrs ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
next:
	for _, line := range l.lines {
		for _, s := range substrs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		return true
	}
	return false
}

// TestTLS: gateways connect over TLS; a failed handshake is logged at
// Warn with the remote address; an abnormal disconnect carries its reason.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := testenv.SelfSigned(t, dir, "ponte-ingest")
	var out logs
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b, _ := startWith(t, func(c *broker.Config) {
		c.TLS = broker.TLS{Listen: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile}
		c.Logger = log
	})
	f := startFlow(t, b)
	o := paho.NewClientOptions().AddBroker("ssl://" + b.TLSAddr()).SetClientID("gw2").SetUsername("gw2").SetPassword(pw2).
		SetAutoReconnect(false).SetProtocolVersion(4).SetTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("TLS connect: %v", tok.Error())
	}
	c.Disconnect(50)
	// TLS 1.1 is refused.
	old, err := tls.Dial("tcp", b.TLSAddr(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS11})
	if err == nil {
		old.Close()
		t.Error("TLS 1.1 handshake succeeded")
	}
	// Plain MQTT on the TLS port: a failed handshake.
	raw, err := net.Dial("tcp", b.TLSAddr())
	if err != nil {
		t.Fatal(err)
	}
	raw.Write([]byte{0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 30, 0, 0})
	raw.Read(make([]byte, 1))
	raw.Close()
	testenv.Eventually(t, 15*time.Second, "the failed handshake to be logged", func() bool {
		return out.find("level=WARN", "MQTT TLS handshake failed", "remote="+raw.LocalAddr().String())
	})
	// A client that vanishes without DISCONNECT: the warning says why.
	conn, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	id := "gw2"
	pk := []byte{0x10, byte(10 + 2 + len(id) + 2 + 3 + 2 + len(pw2)), 0, 4, 'M', 'Q', 'T', 'T', 4, 0xc2, 0, 30, 0, byte(len(id))}
	pk = append(pk, id...)
	pk = append(pk, 0, 3, 'g', 'w', '2', 0, byte(len(pw2)))
	pk = append(pk, pw2...)
	conn.Write(pk)
	conn.Read(make([]byte, 4))     // CONNACK
	conn.Write([]byte{0xff, 0x00}) // a reserved packet type
	conn.Read(make([]byte, 1))
	conn.Close()
	testenv.Eventually(t, 15*time.Second, "the disconnect to be logged with its reason", func() bool {
		return out.find("level=WARN", "MQTT client disconnected", "client=gw2", "reason=")
	})
	if out.find(`msg=""`) {
		t.Error(`a log line without a message (msg="")`)
	}
	f.keepsFlowing(t)
}
