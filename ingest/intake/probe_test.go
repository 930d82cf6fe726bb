package intake_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/intake"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// logBuffer collects an intake's log for a test to wait on.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// count returns how many log lines contain s.
func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// muteProxy relays TCP connections to a broker. muteOpen makes the
// connections open at that moment stop passing the broker's PUBLISH
// packets to the client, while everything else (CONNACK, SUBACK, PUBACK,
// PINGRESP) still passes: the client's connection stays up and healthy
// but its session receives nothing, as when another connection took the
// session's deliveries over without the broker closing this one.
type muteProxy struct {
	URL    string
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
	mutes []*atomic.Bool
}

func newMuteProxy(t testing.TB, brokerPort int) *muteProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &muteProxy{URL: "tcp://" + ln.Addr().String(), ln: ln, target: fmt.Sprintf("127.0.0.1:%d", brokerPort)}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *muteProxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		broker, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		mute := new(atomic.Bool)
		p.mu.Lock()
		p.conns = append(p.conns, client, broker)
		p.mutes = append(p.mutes, mute)
		p.mu.Unlock()
		go func() {
			_, _ = io.Copy(broker, client)
			broker.Close()
			client.Close()
		}()
		go func() {
			relayMuted(client, broker, mute)
			broker.Close()
			client.Close()
		}()
	}
}

// muteOpen mutes the connections open now and returns their number.
func (p *muteProxy) muteOpen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.mutes {
		m.Store(true)
	}
	n := len(p.mutes)
	p.mutes = nil
	return n
}

// relayMuted copies MQTT packets from src to dst, dropping PUBLISH
// packets while mute is set.
func relayMuted(dst io.Writer, src io.Reader, mute *atomic.Bool) {
	r := bufio.NewReader(src)
	for {
		hdr, err := r.ReadByte()
		if err != nil {
			return
		}
		pkt := []byte{hdr}
		n, shift := 0, 0
		for {
			b, err := r.ReadByte()
			if err != nil {
				return
			}
			pkt = append(pkt, b)
			n |= int(b&0x7f) << shift
			shift += 7
			if b&0x80 == 0 || shift > 21 {
				break
			}
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		if hdr>>4 == 3 && mute.Load() {
			continue
		}
		if _, err := dst.Write(append(pkt, body...)); err != nil {
			return
		}
	}
}

// underAttack runs an intake with a quick probe and gateways publishing
// through Mosquitto; once some readings are written it calls attack,
// then waits until the intake reports not connected and connected again.
// Every reading must end up written and applied once, i.e. gateways are
// acknowledged again after the attack, without restarting the intake.
func underAttack(t *testing.T, intakeURL func(b *testenv.Broker) string, attack func(b *testenv.Broker)) *logBuffer {
	t.Helper()
	b := testenv.Mosquitto(t)
	logs := &logBuffer{}
	sink := ingesttest.NewMemSink()
	p := startPipeline(t, pipeOpts{url: intakeURL(b), clientID: "ingest-a", sink: sink, probe: 50 * time.Millisecond, log: logs.logger()})
	var sawDown, sawUp atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sink.Len() < 1000 {
			time.Sleep(time.Millisecond)
		}
		attack(b)
		// The intake may be down for less than a poll (paho reconnects at
		// once after a takeover): each time it marks itself not connected
		// it logs why, so the log is the record of the down state.
		down := func() bool {
			return !p.mqtt.Connected() || logs.count("MQTT intake connection lost") > 0 || logs.count("MQTT intake receives nothing") > 0
		}
		deadline := time.Now().Add(30 * time.Second)
		for !down() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		sawDown.Store(down())
		for !p.mqtt.Connected() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		sawUp.Store(p.mqtt.Connected())
	}()
	const total = 5000
	gws := runGateways(t, b.URL, 2, total, 90*time.Second, func(g *ingesttest.Gateway) { g.Batch = 50 })
	<-done
	if !sawDown.Load() {
		t.Error("the intake never reported itself not connected (/readyz) after the attack")
	}
	if !sawUp.Load() {
		t.Error("the intake did not report itself connected again")
	}
	checkOnce(t, sink.Points(), gws, total, p.applier)
	return logs
}

// TestSessionDeliveriesStolen: ingest's connection stays up but its
// session stops receiving (what a takeover that does not close the old
// connection does). The probes stop coming back: the intake reports not
// connected, drops the connection and connects afresh, and the batches
// that went nowhere meanwhile are delivered again and acknowledged.
func TestSessionDeliveriesStolen(t *testing.T) {
	var px *muteProxy
	logs := underAttack(t,
		func(b *testenv.Broker) string { px = newMuteProxy(t, b.Port); return px.URL },
		func(*testenv.Broker) {
			if n := px.muteOpen(); n != 1 {
				t.Errorf("muted %d connections, want ingest's one", n)
			}
		})
	if logs.count("MQTT intake receives nothing") == 0 {
		t.Errorf("no probe-miss log line; log:\n%s", logs.buf.String())
	}
	if n := logs.count("MQTT intake connection lost"); n != 0 {
		t.Errorf("the connection was lost %d times: the test did not exercise the probe", n)
	}
}

// TestSessionTakenOverByIngestCredential: an attacker holding ingest's
// credential connects with ingest's client ID and a clean session, which
// discards ingest's subscriptions. The intake reports not connected,
// takes its client ID back, subscribes again, and gateways are
// acknowledged again.
func TestSessionTakenOverByIngestCredential(t *testing.T) {
	underAttack(t,
		func(b *testenv.Broker) string { return b.URL },
		func(b *testenv.Broker) {
			o := paho.NewClientOptions().AddBroker(b.URL).SetClientID("ingest-a").SetCleanSession(true).
				SetAutoReconnect(false).SetStore(intake.MemoryStore())
			c := paho.NewClient(o)
			if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Errorf("attacker connect: %v", tok.Error())
				return
			}
			// The attacker keeps the session until ingest takes it back.
			t.Cleanup(func() { c.Disconnect(0) })
		})
}

// TestProbesWhileSinkDown: while InfluxDB is down the pipeline stops
// taking batches and the intake's message handler waits in Submit, so the
// probes that come back wait behind it. That is back-pressure, not a
// stolen session: the intake must not drop its connection for it, and
// everything is written once the sink is back.
func TestProbesWhileSinkDown(t *testing.T) {
	b := testenv.Mosquitto(t)
	logs := &logBuffer{}
	sink := &enteredSink{MemSink: ingesttest.NewMemSink()}
	sink.SetDown(true)
	const probe = 20 * time.Millisecond
	p := startPipeline(t, pipeOpts{url: b.URL, clientID: "ingest-a", sink: sink, probe: probe, log: logs.logger(),
		mod: func(c *service.Config) { c.Workers, c.QueueLen = 1, 1 }})
	const total = 2000
	done := make(chan []*ingesttest.Gateway)
	go func() {
		done <- runGateways(t, b.URL, 2, total, 90*time.Second, func(g *ingesttest.Gateway) { g.Batch = 50 })
	}()
	// The sink is down from the start, so the pipeline fills and the
	// handler blocks; let many probe intervals pass (there is no
	// event to wait for: the point is that nothing happens).
	testenv.Eventually(t, 20*time.Second, "a batch reaching the sink", func() bool { return sink.entered.Load() > 0 })
	time.Sleep(50 * probe)
	if n := logs.count("MQTT intake receives nothing"); n != 0 {
		t.Errorf("the intake took back-pressure for a stolen session %d times", n)
	}
	if !p.mqtt.Connected() {
		t.Error("the intake reports not connected while it only waits for the sink")
	}
	sink.SetDown(false)
	gws := <-done
	checkOnce(t, sink.Points(), gws, total, p.applier)
}

// enteredSink counts the writes that entered the sink (and may be
// blocked in it while it is down).
type enteredSink struct {
	*ingesttest.MemSink
	entered atomic.Int32
}

func (s *enteredSink) Write(ctx context.Context, gateway string, rs []wire.Reading) ([]service.Rejected, error) {
	s.entered.Add(1)
	return s.MemSink.Write(ctx, gateway, rs)
}
