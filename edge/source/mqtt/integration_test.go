package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// value reads a gauge or counter.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		return -1
	}
	if d.Gauge != nil {
		return d.Gauge.GetValue()
	}
	return d.Counter.GetValue()
}

// collector gathers emitted readings.
type collector struct {
	mu sync.Mutex
	rs []wire.Reading
	// commit, if set, makes the Commit of each emit; nil: durable at once.
	commit func(rs []wire.Reading) source.Commit
}

func (c *collector) emit(rs []wire.Reading) source.Commit {
	c.mu.Lock()
	c.rs = append(c.rs, rs...)
	commit := c.commit
	c.mu.Unlock()
	if commit != nil {
		return commit(rs)
	}
	return source.Resolved(nil)
}

// find returns the readings matching f.
func (c *collector) find(f func(wire.Reading) bool) []wire.Reading {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []wire.Reading
	for _, r := range c.rs {
		if f(r) {
			out = append(out, r)
		}
	}
	return out
}

// logCount counts log records by level and message, passing them on to
// next, to check that state changes are logged once.
type logCount struct {
	next slog.Handler
	mu   *sync.Mutex
	n    map[string]int
}

func newLogCount(next slog.Handler) *logCount {
	return &logCount{next: next, mu: &sync.Mutex{}, n: map[string]int{}}
}

func (h *logCount) Enabled(context.Context, slog.Level) bool { return true }
func (h *logCount) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	h.n[r.Level.String()+" "+r.Message]++
	h.mu.Unlock()
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}
func (h *logCount) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	return &c
}
func (h *logCount) WithGroup(g string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(g)
	return &c
}
func (h *logCount) count(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[key]
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

// publisher connects a separate paho client to url, as a network server
// would publish uplinks.
func publisher(t *testing.T, url string) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("pub-%d", time.Now().UnixNano())).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect to %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t *testing.T, c paho.Client, topic string, payload []byte, retained bool) {
	t.Helper()
	if tok := c.Publish(topic, 1, retained, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// uplink rewrites a ChirpStack fixture for a device, time and object.
func uplink(t *testing.T, fixtureName, devEUI, at, object string) []byte {
	t.Helper()
	s := string(fixture(t, fixtureName))
	for _, old := range []string{`"70b3d5e75e001a2c"`, `"a84041000181c2e1"`} {
		s = strings.Replace(s, `"devEui": `+old, `"devEui": "`+devEUI+`"`, 1)
	}
	if at != "" {
		i := strings.Index(s, `"time": "`) + len(`"time": "`)
		j := i + strings.Index(s[i:], `"`)
		s = s[:i] + at + s[j:]
	}
	if object != "" {
		i := strings.Index(s, `"object": {`) + len(`"object": `)
		j := i + strings.Index(s[i:], "}") + 1
		s = s[:i] + object + s[j:]
	}
	return []byte(s)
}

// runSource runs a Source for cfg until the test ends, and returns a func
// that stops it earlier (waiting until Run returned).
func runSource(t *testing.T, cfg Config, c *collector) (stop func()) {
	t.Helper()
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, c.emit) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return within 10s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestBrokerRestart is the failure other gateways have: the broker restarts
// without persistence, forgets every subscription, and a client that only
// reconnects stays deaf. The source must reconnect and subscribe again.
func TestBrokerRestart(t *testing.T) {
	broker := testenv.Mosquitto(t)
	bm := NewMetrics(prometheus.NewRegistry())
	pm := source.NewMetrics(prometheus.NewRegistry())
	const parkEUI, noiseEUI = "70b3d5e75e001a2c", "a84041000181c2e1"
	cfg := Config{
		Devices: []source.Device{
			// Upper case in the site config, lower case from ChirpStack.
			{Name: "bay-12", Profile: parkingProfile(), Address: broker.URL, ID: strings.ToUpper(parkEUI)},
			{Name: "slm-03", Profile: noiseProfile(), Address: strings.Replace(broker.URL, "tcp://", "mqtt://", 1), ID: noiseEUI},
		},
		Logger: testLogger(t), Metrics: pm, BrokerMetrics: bm,
		ClientID: fmt.Sprintf("ponte-test-%d", time.Now().UnixNano()), ReconnectMax: 2 * time.Second,
	}
	logs := newLogCount(testLogger(t).Handler())
	cfg.Logger = slog.New(logs)
	c := &collector{}
	runSource(t, cfg, c)
	label := broker.URL
	testenv.Eventually(t, 15*time.Second, "subscribed", func() bool { return value(bm.Subscribed.WithLabelValues(label)) == 1 })

	pub := publisher(t, broker.URL)
	topic := func(eui string) string { return "application/17c82e96/device/" + eui + "/event/up" }
	publish(t, pub, topic(parkEUI), fixture(t, "chirpstack_v4_parking.json"), false)
	publish(t, pub, topic(noiseEUI), fixture(t, "chirpstack_v4_noise.json"), false)
	publish(t, pub, topic("ffffffffffffffff"), uplink(t, "chirpstack_v4_parking.json", "ffffffffffffffff", "", ""), false)
	publish(t, pub, "application/x/device/y/event/up", []byte("not json"), false)

	testenv.Eventually(t, 10*time.Second, "first uplinks emitted", func() bool {
		return len(c.find(func(r wire.Reading) bool { return true })) >= 8
	})
	testenv.Eventually(t, 10*time.Second, "unknown device and garbage counted", func() bool {
		return value(bm.Dropped.WithLabelValues(label, "unknown_device")) == 1 && value(bm.Dropped.WithLabelValues(label, "bad_payload")) == 1
	})
	want := map[string]wire.Value{
		"bay-12/occupied": wire.Bool(true), "bay-12/battery": wire.Float(3.61), "bay-12/temperature": wire.Int(14),
		"slm-03/laeq": wire.Float(61.3), "slm-03/lamax": wire.Float(78.9), "slm-03/la90": wire.Float(52.1),
		"slm-03/battery": wire.Int(97), "slm-03/alarm": wire.Bool(false),
	}
	got := c.find(func(wire.Reading) bool { return true })
	if len(got) != len(want) {
		t.Fatalf("got %d readings %+v, want %d (the unknown device's must be dropped)", len(got), got, len(want))
	}
	for _, r := range got {
		w, ok := want[r.Device+"/"+r.Point]
		if !ok || !r.Quality.Good() || !sameValue(r.Value, w) {
			t.Errorf("unexpected reading %+v (want %v)", r, w)
		}
	}
	if v := value(pm.Readings.WithLabelValues("bay-12", "good")); v != 3 {
		t.Errorf("bay-12 good readings counted %v, want 3", v)
	}
	if v := value(bm.Messages.WithLabelValues(label)); v != 4 {
		t.Errorf("messages counted %v, want 4", v)
	}

	broker.Restart(300 * time.Millisecond)
	testenv.Eventually(t, 10*time.Second, "connection loss noticed", func() bool { return value(bm.ConnectionsLost.WithLabelValues(label)) >= 1 })

	// Publish fresh uplinks until one comes through: it can only arrive
	// if the source reconnected and subscribed again, since the restarted
	// broker has no session for it.
	pub2 := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL).SetClientID("pub-after-restart").SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond))
	pub2.Connect().WaitTimeout(10 * time.Second)
	t.Cleanup(func() { pub2.Disconnect(100) })
	after := func(r wire.Reading) bool { return r.Device == "bay-12" && r.Point == "temperature" && r.Value.I >= 30 }
	deadline := time.Now().Add(30 * time.Second)
	for k := 0; len(c.find(after)) == 0; k++ {
		if time.Now().After(deadline) {
			t.Fatalf("no uplink received after the broker restart (connected=%v subscribed=%v): the source is deaf",
				value(bm.Connected.WithLabelValues(label)), value(bm.Subscribed.WithLabelValues(label)))
		}
		at := time.Now().UTC().Format(time.RFC3339Nano)
		pub2.Publish(topic(parkEUI), 1, false, uplink(t, "chirpstack_v4_parking.json", parkEUI, at, fmt.Sprintf(`{"occupied": 0, "temperature": %d}`, 30+k))).WaitTimeout(5 * time.Second)
		time.Sleep(200 * time.Millisecond)
	}
	if value(bm.Connected.WithLabelValues(label)) != 1 || value(bm.Subscribed.WithLabelValues(label)) != 1 {
		t.Errorf("after the restart: connected=%v subscribed=%v, want 1 and 1",
			value(bm.Connected.WithLabelValues(label)), value(bm.Subscribed.WithLabelValues(label)))
	}
	r := c.find(after)[0]
	if r.Quality != wire.QualityGood || time.Since(r.Time) > time.Minute {
		t.Errorf("post-restart reading %+v: want good, stamped with the payload's recent time", r)
	}
	if v := value(bm.FieldsMissing.WithLabelValues("bay-12", "battery")); v < 1 {
		t.Errorf("missing battery field counted %v times, want >= 1", v)
	}
	for key, want := range map[string]int{
		"INFO mqtt broker connected":                     1,
		"WARN mqtt broker connection lost; reconnecting": 1,
		"INFO mqtt broker connection regained":           1,
		"INFO mqtt subscribed":                           2,
	} {
		if got := logs.count(key); got != want {
			t.Errorf("logged %q %d times, want %d (once per change of state)", key, got, want)
		}
	}
}

// TestBrokerLate: the gateway boots before its broker (or the broker is
// down at start); the source keeps trying, says so once, and reads when
// the broker appears.
func TestBrokerLate(t *testing.T) {
	broker := testenv.Mosquitto(t)
	broker.Stop()
	bm := NewMetrics(nil)
	logs := newLogCount(testLogger(t).Handler())
	const eui = "a84041000181c2e1"
	cfg := Config{
		Devices:  []source.Device{{Name: "slm-03", Profile: noiseProfile(), Address: broker.URL, ID: eui}},
		Logger:   slog.New(logs),
		ClientID: fmt.Sprintf("ponte-test-%d", time.Now().UnixNano()), BrokerMetrics: bm, ReconnectMax: time.Second,
	}
	c := &collector{}
	runSource(t, cfg, c)
	testenv.Eventually(t, 10*time.Second, "unreachable broker logged", func() bool { return logs.count("WARN mqtt broker unreachable; retrying") == 1 })
	broker.Start()
	testenv.Eventually(t, 15*time.Second, "subscribed", func() bool { return value(bm.Subscribed.WithLabelValues(broker.URL)) == 1 })
	publish(t, publisher(t, broker.URL), "application/a/device/"+eui+"/event/up", fixture(t, "chirpstack_v4_noise.json"), false)
	testenv.Eventually(t, 10*time.Second, "uplink emitted", func() bool { return len(c.find(func(wire.Reading) bool { return true })) == 5 })
	if n := logs.count("WARN mqtt broker unreachable; retrying"); n != 1 {
		t.Errorf("unreachable logged %d times at Warn, want once", n)
	}
}

// TestSilentDevice checks the silence rule: a device quiet for more than
// SilentAfter intervals gets one round of bad_comm readings and the gauge,
// and is cleared by its next message.
func TestSilentDevice(t *testing.T) {
	broker := testenv.Mosquitto(t)
	bm := NewMetrics(nil)
	const eui = "70b3d5e75e001a2c"
	cfg := Config{
		Devices:  []source.Device{{Name: "bay-7", Profile: parkingProfile(), Address: broker.URL, ID: eui, Interval: 100 * time.Millisecond}},
		Logger:   testLogger(t),
		ClientID: fmt.Sprintf("ponte-test-%d", time.Now().UnixNano()), BrokerMetrics: bm,
	}
	c := &collector{}
	runSource(t, cfg, c)
	bad := func(r wire.Reading) bool { return r.Quality == wire.QualityBadComm }
	testenv.Eventually(t, 10*time.Second, "silence reported", func() bool { return len(c.find(bad)) > 0 })
	rs := c.find(bad)
	if len(rs) != 3 || !strings.Contains(rs[0].Reason, "no message for") || rs[0].Device != "bay-7" {
		t.Fatalf("silence readings %+v: want one bad_comm reading per field naming the silence", rs)
	}
	if value(bm.Silent.WithLabelValues("bay-7")) != 1 {
		t.Fatal("silent gauge not set")
	}
	testenv.Eventually(t, 15*time.Second, "subscribed", func() bool { return value(bm.Subscribed.WithLabelValues(broker.URL)) == 1 })
	publish(t, publisher(t, broker.URL), "application/a/device/"+eui+"/event/up",
		uplink(t, "chirpstack_v4_parking.json", eui, time.Now().UTC().Format(time.RFC3339Nano), ""), false)
	testenv.Eventually(t, 10*time.Second, "device heard again", func() bool {
		return len(c.find(func(r wire.Reading) bool { return r.Quality.Good() })) == 3
	})
	if len(c.find(bad))%3 != 0 {
		t.Fatalf("bad_comm readings come per silence, one per field; got %d", len(c.find(bad)))
	}
}

// TestRetainedWithoutTime: a retained message on a profile without a time
// path is a value of unknown age and is dropped; live messages pass.
func TestRetainedWithoutTime(t *testing.T) {
	broker := testenv.Mosquitto(t)
	prof := plainProfile()
	prof.MQTT.Time = ""
	pub := publisher(t, broker.URL)
	publish(t, pub, "city/noise/slm-07", []byte(`{"id":"slm-07","laeq":40}`), true)

	bm := NewMetrics(nil)
	cfg := Config{
		Devices:  []source.Device{{Name: "slm-07", Profile: prof, Address: broker.URL, ID: "slm-07"}},
		Logger:   testLogger(t),
		ClientID: fmt.Sprintf("ponte-test-%d", time.Now().UnixNano()), BrokerMetrics: bm,
	}
	c := &collector{}
	runSource(t, cfg, c)
	testenv.Eventually(t, 15*time.Second, "retained message dropped", func() bool {
		return value(bm.Dropped.WithLabelValues(broker.URL, "retained_without_time")) == 1
	})
	publish(t, pub, "city/noise/slm-07", []byte(`{"id":"slm-07","laeq":55.5}`), false)
	testenv.Eventually(t, 10*time.Second, "live message emitted", func() bool { return len(c.find(func(wire.Reading) bool { return true })) > 0 })
	rs := c.find(func(wire.Reading) bool { return true })
	if len(rs) != 1 || rs[0].Point != "laeq" || rs[0].Value.F != 55.5 {
		t.Fatalf("readings %+v: want only the live laeq 55.5", rs)
	}
}

// TestTopicOnlyDevice: without a device_id path the topic names the device,
// so even a payload that is not JSON is counted against it.
func TestTopicOnlyDevice(t *testing.T) {
	broker := testenv.Mosquitto(t)
	prof := plainProfile()
	prof.MQTT.DeviceID, prof.MQTT.Topic = "", "site/slm/front"
	bm, pm := NewMetrics(nil), source.NewMetrics(nil)
	cfg := Config{
		Devices:  []source.Device{{Name: "front", Profile: prof, Address: broker.URL}},
		Logger:   testLogger(t),
		ClientID: fmt.Sprintf("ponte-test-%d", time.Now().UnixNano()), BrokerMetrics: bm, Metrics: pm,
	}
	c := &collector{}
	runSource(t, cfg, c)
	testenv.Eventually(t, 15*time.Second, "subscribed", func() bool { return value(bm.Subscribed.WithLabelValues(broker.URL)) == 1 })
	pub := publisher(t, broker.URL)
	publish(t, pub, "site/slm/front", []byte("LAeq=50.1"), false)
	publish(t, pub, "site/slm/back", []byte(`{"laeq":1}`), false)
	testenv.Eventually(t, 10*time.Second, "garbage counted against the device", func() bool {
		return value(pm.Errors.WithLabelValues("front", "payload")) == 1 && value(bm.Dropped.WithLabelValues(broker.URL, "bad_payload")) == 1
	})
	publish(t, pub, "site/slm/front", []byte(`{"ts":"2024-05-14T21:15:00Z","laeq":50.1}`), false)
	testenv.Eventually(t, 10*time.Second, "reading emitted", func() bool { return len(c.find(func(wire.Reading) bool { return true })) == 1 })
	if r := c.find(func(wire.Reading) bool { return true })[0]; r.Device != "front" || r.Value.F != 50.1 || !r.Time.Equal(mustTime("2024-05-14T21:15:00Z")) {
		t.Fatalf("reading %+v", r)
	}
	if v := value(bm.Messages.WithLabelValues(broker.URL)); v != 2 {
		t.Fatalf("messages %v, want 2 (site/slm/back is not subscribed)", v)
	}
}

// TestRedeliveryAfterFailedCommit runs the source against a real Mosquitto
// with a persistent session. Of three QoS 1 uplinks, the first's Commit
// fails (every time), the second's never resolves before the source stops
// (the agent stopping before the fsync), the third's is durable. A second
// source with the same client ID, as the restarted agent, must get the
// first two again from the broker and not the third.
func TestRedeliveryAfterFailedCommit(t *testing.T) {
	broker := testenv.Mosquitto(t)
	const eui = "a84041000181c2e1"
	clientID := fmt.Sprintf("ponte-test-%d", time.Now().UnixNano())
	topic := "application/a/device/" + eui + "/event/up"
	cfgFor := func(logs *logCount, bm *Metrics) Config {
		return Config{
			Devices:  []source.Device{{Name: "slm-03", Profile: noiseProfile(), Address: broker.URL, ID: eui}},
			Logger:   slog.New(logs),
			ClientID: clientID, BrokerMetrics: bm, ReconnectMax: time.Second,
		}
	}
	// Each uplink carries its number as the battery level, the only field.
	battery := func(c *collector, n int64) int {
		return len(c.find(func(r wire.Reading) bool { return r.Point == "battery" && r.Value.I == n }))
	}
	pending := newFakeCommit() // never resolved: the agent stops first
	first := &collector{commit: func(rs []wire.Reading) source.Commit {
		switch rs[0].Value.I {
		case 1:
			return source.Resolved(fmt.Errorf("buffer: %w", errors.New("records dropped from memory before they were durable")))
		case 2:
			return pending
		}
		return source.Resolved(nil)
	}}
	logsA, bmA := newLogCount(testLogger(t).Handler()), NewMetrics(nil)
	stopA := runSource(t, cfgFor(logsA, bmA), first)
	testenv.Eventually(t, 15*time.Second, "first source subscribed", func() bool { return value(bmA.Subscribed.WithLabelValues(broker.URL)) == 1 })

	pub := publisher(t, broker.URL)
	at := time.Now().UTC().Format(time.RFC3339Nano)
	for n := 1; n <= 3; n++ {
		publish(t, pub, topic, uplink(t, "chirpstack_v4_noise.json", eui, at, fmt.Sprintf(`{"battery": %d}`, n)), false)
	}
	// The acknowledgement is logged after paho queued the PUBACK, which
	// it writes before the DISCONNECT that stopping the source sends.
	testenv.Eventually(t, 10*time.Second, "the durable uplink acknowledged", func() bool {
		return logsA.count("DEBUG mqtt message acknowledged") == 1
	})
	testenv.Eventually(t, 10*time.Second, "the failed uplink emitted again", func() bool { return battery(first, 1) >= 2 })
	if battery(first, 2) != 1 || battery(first, 3) != 1 {
		t.Fatalf("first source emitted uplink 2 %d times and 3 %d times, want once each", battery(first, 2), battery(first, 3))
	}
	if v := value(bmA.NotDurable.WithLabelValues(broker.URL)); v < 2 {
		t.Errorf("not-durable emits counted %v, want >= 2", v)
	}
	if n := logsA.count("WARN mqtt readings not durable; message not acknowledged, emitting again"); n < 1 {
		t.Errorf("not-durable never warned")
	}
	stopA()

	second := &collector{}
	logsB, bmB := newLogCount(testLogger(t).Handler()), NewMetrics(nil)
	runSource(t, cfgFor(logsB, bmB), second)
	testenv.Eventually(t, 15*time.Second, "the unacknowledged uplinks redelivered", func() bool {
		return battery(second, 1) == 1 && battery(second, 2) == 1
	})
	// A fresh uplink comes after whatever the session still held.
	testenv.Eventually(t, 15*time.Second, "second source subscribed", func() bool { return value(bmB.Subscribed.WithLabelValues(broker.URL)) == 1 })
	publish(t, pub, topic, uplink(t, "chirpstack_v4_noise.json", eui, at, `{"battery": 4}`), false)
	testenv.Eventually(t, 10*time.Second, "a fresh uplink", func() bool { return battery(second, 4) == 1 })
	if n := battery(second, 3); n != 0 {
		t.Fatalf("the durable, acknowledged uplink was delivered again %d times", n)
	}
	// The acknowledgement follows the emit (once the commit resolves).
	testenv.Eventually(t, 10*time.Second, "the fresh uplink acknowledged", func() bool {
		return logsB.count("DEBUG mqtt message acknowledged") >= 3
	})
	if n := logsB.count("DEBUG mqtt message acknowledged"); n != 3 {
		t.Errorf("second source acknowledged %d messages, want 3 (two redelivered, one fresh)", n)
	}
}
