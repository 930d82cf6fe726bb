package subs

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ponte-city/ponte/twin"
)

// sized is a notification whose data is n bytes of JSON, tagged by tag.
func sized(tag string, n int) notification {
	b, _ := json.Marshal([]string{tag + strings.Repeat("x", n-len(tag)-6)})
	return notification{data: b}
}

// tags are the tags of q's notifications, oldest first.
func tags(q []notification) string {
	var out []string
	for _, n := range q {
		var s []string
		_ = json.Unmarshal(n.data, &s)
		out = append(out, strings.TrimRight(s[0], "x"))
	}
	return strings.Join(out, " ")
}

// TestQueueByteBudgets: a subscription's queue keeps its newest
// notifications within QueueBytes; all queues together stay within
// TotalQueueBytes, the largest queue giving way; what is dropped is
// counted with reason "bytes", and the gauges follow.
func TestQueueByteBudgets(t *testing.T) {
	tw, err := twin.New(twin.Config{Sites: []twin.Site{siteFI}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(tw)
	one := sized("a", 1000).size() // every notification below is this size
	cfg.QueueBytes, cfg.TotalQueueBytes = 3*one, 5*one
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a := newSub(Definition{ID: "urn:a"}, &compiled{}, "*", twin.AllScope(), now)
	b := newSub(Definition{ID: "urn:b"}, &compiled{}, "*", twin.AllScope(), now)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs["urn:a"], m.subs["urn:b"] = a, b
	dropped := func() float64 { return testutil.ToFloat64(m.met.dropped.WithLabelValues(dropBytes)) }

	for _, tag := range []string{"a1", "a2", "a3", "a4", "a5"} {
		m.enqueueLocked(a, sized(tag, 1000))
	}
	if got := tags(a.queue); got != "a3 a4 a5" || dropped() != 2 || a.queueBytes != 3*one {
		t.Fatalf("a's queue %q (%d bytes), dropped{bytes} %v; want a3 a4 a5 (%d), 2", got, a.queueBytes, dropped(), 3*one)
	}
	// b fills the total: a, the largest queue, gives way, not b.
	for _, tag := range []string{"b1", "b2", "b3"} {
		m.enqueueLocked(b, sized(tag, 1000))
	}
	if got, gotB := tags(a.queue), tags(b.queue); got != "a4 a5" || gotB != "b1 b2 b3" || dropped() != 3 {
		t.Fatalf("queues a %q b %q, dropped{bytes} %v; want a4 a5 / b1 b2 b3, 3", got, gotB, dropped())
	}
	// Now b is the larger: a's next, within a's own budget, drops b's
	// oldest, and no more than needed.
	m.enqueueLocked(a, sized("a6", 1000))
	if got, gotB := tags(a.queue), tags(b.queue); got != "a4 a5 a6" || gotB != "b2 b3" || dropped() != 4 {
		t.Fatalf("queues a %q b %q, dropped{bytes} %v; want a4 a5 a6 / b2 b3, 4", got, gotB, dropped())
	}
	if m.queueBytes != 5*one || testutil.ToFloat64(m.met.queuedBytes) != float64(5*one) || testutil.ToFloat64(m.met.queued) != 5 {
		t.Errorf("total %d bytes, gauges %v bytes %v notifications; want %d, 5", m.queueBytes,
			testutil.ToFloat64(m.met.queuedBytes), testutil.ToFloat64(m.met.queued), 5*one)
	}
	// A notification larger than a whole queue's budget is dropped alone.
	m.enqueueLocked(a, sized("big", int(4*one)))
	if got := tags(a.queue); got != "a4 a5 a6" || dropped() != 5 {
		t.Errorf("after an oversized notification a holds %q, dropped{bytes} %v; want a4 a5 a6, 5", got, dropped())
	}
	// Popping and clearing give the bytes back.
	m.popLocked(a)
	m.clearLocked(b, dropDeleted)
	if m.queueBytes != 2*one || a.queueBytes != 2*one || b.queueBytes != 0 || testutil.ToFloat64(m.met.queuedBytes) != float64(2*one) {
		t.Errorf("after pop and clear: total %d a %d b %d gauge %v, want %d %d 0", m.queueBytes, a.queueBytes, b.queueBytes,
			testutil.ToFloat64(m.met.queuedBytes), 2*one, 2*one)
	}
	if got := testutil.ToFloat64(m.met.dropped.WithLabelValues(dropDeleted)); got != 2 {
		t.Errorf("dropped{deleted} %v, want 2", got)
	}
}

// TestQueueBytesDefaults: zero budgets take the defaults, a total below
// the default per-subscription budget lowers it, and a per-subscription
// budget above the total is refused.
func TestQueueBytesDefaults(t *testing.T) {
	tw, err := twin.New(twin.Config{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	c := testConfig(tw).withDefaults()
	if c.QueueBytes != DefaultQueueBytes || c.TotalQueueBytes != DefaultTotalQueueBytes {
		t.Errorf("defaults %d %d", c.QueueBytes, c.TotalQueueBytes)
	}
	c = testConfig(tw)
	c.TotalQueueBytes = 1 << 20
	if c = c.withDefaults(); c.QueueBytes != 1<<20 {
		t.Errorf("QueueBytes %d with TotalQueueBytes 1 MiB", c.QueueBytes)
	}
	c = Config{Reader: tw, Scope: scopeFromHeader, ContextURL: contextURL, QueueBytes: 2 << 20, TotalQueueBytes: 1 << 20,
		Registerer: prometheus.NewRegistry()}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "QueueBytes: 2097152 is above TotalQueueBytes 1048576") {
		t.Errorf("Validate: %v", err)
	}
	c.QueueBytes = -1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "QueueBytes: must be >= 0") {
		t.Errorf("Validate: %v", err)
	}
}
