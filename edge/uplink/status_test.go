package uplink

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// statusWatch follows a gateway's retained status topic.
type statusWatch struct {
	mu     sync.Mutex
	states []wire.Status
	errs   []error
}

func watchStatus(t *testing.T, url, topic string) *statusWatch {
	t.Helper()
	w := &statusWatch{}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("watch-" + t.Name() + time.Now().Format("150405.000000")).SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect status watcher: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	tok := c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) {
		s, err := wire.DecodeStatus(m.Payload())
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			w.errs = append(w.errs, err)
			return
		}
		w.states = append(w.states, s)
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe to %s: %v", topic, tok.Error())
	}
	return w
}

// last returns the latest status seen and how many were seen.
func (w *statusWatch) last() (wire.Status, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.states) == 0 {
		return wire.Status{}, 0
	}
	return w.states[len(w.states)-1], len(w.states)
}

func (w *statusWatch) waitState(t *testing.T, state string) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "status "+state, func() bool { s, _ := w.last(); return s.State == state })
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, err := range w.errs {
		t.Errorf("status message: %v", err)
	}
	if s := w.states[len(w.states)-1]; s.Gateway != testGW || s.Version != "test" || s.Time.IsZero() || s.Epoch == 0 || s.Retained == 0 {
		t.Errorf("status %+v, want gateway %s, version test, a time, and the buffer's epoch and retained seq", s, testGW)
	}
}

func TestStatusAndLastWill(t *testing.T) {
	broker := testenv.Mosquitto(t)
	p := newProxy(t, "127.0.0.1:"+itoa(broker.Port))
	b := openBuf(t)
	cfg := baseConfig(proxyURL(p))
	topic := cfg.Topics.Status(testGW)
	w := watchStatus(t, broker.URL, topic)
	f := start(t, cfg, b)

	w.waitState(t, wire.StateOnline)
	p.Cut() // the link dies: the broker sees the socket close and publishes the will
	w.waitState(t, wire.StateOffline)
	if f.Status().Connected {
		testenv.Eventually(t, 10*time.Second, "the forwarder noticing", func() bool { return !f.Status().Connected })
	}
	p.Heal()
	w.waitState(t, wire.StateOnline)
	testenv.Eventually(t, 10*time.Second, "connected again", func() bool { return f.Status().Connected })

	if err := f.stop(t); err != nil {
		t.Fatalf("Run returned %v after cancel, want nil", err)
	}
	w.waitState(t, wire.StateOffline)
	// A newcomer gets the retained offline status.
	late := watchStatus(t, broker.URL, topic)
	late.waitState(t, wire.StateOffline)
	if got := metricValue(f.m.connected); got != 0 {
		t.Errorf("connected gauge %v after stop, want 0", got)
	}
}

// TestStatusHealth checks the periodic online status: while ingest
// acknowledges nothing, its Buffered follows the readings appended; once
// ingest acknowledges them, it drops to zero; the device counts are the
// Devices callback's; the offline status carries no health.
func TestStatusHealth(t *testing.T) {
	broker := testenv.Mosquitto(t)
	b := openBuf(t)
	cfg := baseConfig(broker.URL)
	cfg.StatusInterval = time.Second
	var up, bad atomic.Int64
	up.Store(3)
	bad.Store(1)
	cfg.Devices = func() (int, int) { return int(up.Load()), int(bad.Load()) }
	topic := cfg.Topics.Status(testGW)
	w := watchStatus(t, broker.URL, topic)
	produceDurable(t, b, 0, 10)
	f := start(t, cfg, b)

	h := w.waitHealth(t, "10 buffered, 3 up, 1 bad", func(h *wire.Health) bool {
		return h.Buffered == 10 && h.DevicesUp == 3 && h.DevicesBad == 1
	})
	if h.Oldest.IsZero() || h.Oldest.After(time.Now()) {
		t.Errorf("oldest %v with 10 readings held, want their append time", h.Oldest)
	}
	produceDurable(t, b, 10, 15)
	up.Store(2)
	bad.Store(2)
	w.waitHealth(t, "25 buffered, 2 up, 2 bad", func(h *wire.Health) bool {
		return h.Buffered == 25 && h.DevicesUp == 2 && h.DevicesBad == 2
	})
	_, n := w.last()

	a := newAcker(t, broker.URL, ackContig)
	testenv.Eventually(t, 20*time.Second, "ingest acknowledging all 25", func() bool { return b.Stats().AckedSeq == 25 })
	h = w.waitHealth(t, "nothing buffered", func(h *wire.Health) bool { return h.Buffered == 0 })
	if !h.Oldest.IsZero() {
		t.Errorf("oldest %v with nothing held, want zero", h.Oldest)
	}
	a.check(t, b.Epoch(), 25)
	if _, m := w.last(); m <= n {
		t.Errorf("%d statuses, no more than %d before the acknowledgements", m, n)
	}
	if got := metricValue(f.m.statuses.WithLabelValues("ok")); got < 2 {
		t.Errorf("status publishes ok %v, want the periodic ones counted", got)
	}

	if err := f.stop(t); err != nil {
		t.Fatalf("Run returned %v after cancel, want nil", err)
	}
	w.waitState(t, wire.StateOffline)
	if s, _ := w.last(); s.Health != nil {
		t.Errorf("offline status carries health %+v, want none", s.Health)
	}
}

// waitHealth waits for an online status whose health satisfies ok and
// returns that health.
func (w *statusWatch) waitHealth(t *testing.T, what string, ok func(*wire.Health) bool) *wire.Health {
	t.Helper()
	var got *wire.Health
	testenv.Eventually(t, 20*time.Second, "status health "+what, func() bool {
		s, _ := w.last()
		if s.State != wire.StateOnline || s.Health == nil || !ok(s.Health) {
			return false
		}
		got = s.Health
		return true
	})
	return got
}

// TestStatusPublishFailure: a status publish that fails (here the client
// is not connected) is counted and returns; it never panics or blocks.
func TestStatusPublishFailure(t *testing.T) {
	b := openBuf(t)
	cfg := baseConfig("tcp://127.0.0.1:1")
	f, err := New(cfg, b)
	if err != nil {
		t.Fatal(err)
	}
	c := &conn{client: paho.NewClient(f.options(&conn{lost: make(chan error, 1), subscribed: make(chan error, 1)}))}
	f.publishOnline(context.Background(), c)
	if got := metricValue(f.m.statuses.WithLabelValues("error")); got != 1 {
		t.Errorf("status publishes error %v, want 1", got)
	}
	if got := metricValue(f.m.statuses.WithLabelValues("ok")); got != 0 {
		t.Errorf("status publishes ok %v, want 0", got)
	}
}
