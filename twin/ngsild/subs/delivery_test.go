package subs

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// pendingNO2 is the no2 value held back for entity ent by subscription
// id's throttling, nil when none is.
func (f *fixture) pendingNO2(id, ent string) any {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	p, ok := f.m.subs[id].pending[ent]["no2"].(ngsild.Property)
	if !ok {
		return nil
	}
	return p.Value
}

// TestThrottlingCoalesces: the first change goes at once; the changes
// inside the throttling period wait for its end and go as one
// notification with the latest state. The clock is the Manager's.
func TestThrottlingCoalesces(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)}
	r := newReceiver(t, nil)
	f := newFixture(t, func(c *Config) { c.Now = clk.Now }, r)
	id := f.create(t, "all", subscription(r, map[string]any{"throttling": 60}))
	ent := f.entityID(t, siteFI)

	f.reading(siteFI, "no2", 1)
	if d := data(t, r.wait(t, 1)); d[0]["no2"].(map[string]any)["value"] != 1.0 {
		t.Fatalf("first notification %v", d)
	}
	f.reading(siteFI, "no2", 2)
	f.reading(siteFI, "no2", 3)
	testenv.Eventually(t, 10*time.Second, "no2=3 held back", func() bool { return f.pendingNO2(id, ent) == 3.0 })
	clk.Add(59 * time.Second)
	f.m.flushDue()
	if n := f.enqueued(id); n != 1 {
		t.Fatalf("%d notifications queued inside the period, want 1", n)
	}
	clk.Add(time.Second)
	f.m.flushDue()
	d := data(t, r.wait(t, 2))
	if len(d) != 1 || d[0]["no2"].(map[string]any)["value"] != 3.0 {
		t.Errorf("coalesced notification %v, want no2 3 only", d)
	}
	if n := f.enqueued(id); n != 2 {
		t.Errorf("%d notifications queued, want 2", n)
	}
	// The period restarts with that notification.
	f.reading(siteFI, "no2", 4)
	testenv.Eventually(t, 10*time.Second, "no2=4 held back", func() bool { return f.pendingNO2(id, ent) == 4.0 })
}

// TestRetryUntilAccepted: an endpoint answering 500 twice then 200 gets
// the notification on the third attempt, and GET says so.
func TestRetryUntilAccepted(t *testing.T) {
	r := newReceiver(t, func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	f := newFixture(t, nil, r)
	id := f.create(t, "all", subscription(r, nil))
	f.reading(siteFI, "no2", 12)
	r.wait(t, 1)
	if n := r.callCount(); n != 3 {
		t.Errorf("%d POSTs, want 3", n)
	}
	var body []byte
	testenv.Eventually(t, 10*time.Second, "the status of the third attempt", func() bool {
		_, body = f.do(t, "GET", Base+"/"+id, "all", "")
		return strings.Contains(string(body), `"timesSent":3`)
	})
	for _, want := range []string{`"timesFailed":2`, `"consecutiveErrors":0`, `"status":"ok"`, `"lastFailure"`, `"lastSuccess"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("GET lacks %s: %s", want, body)
		}
	}
	if got := testutil.ToFloat64(f.m.met.failed.WithLabelValues(failStatus)); got != 2 {
		t.Errorf("failures{status} = %v, want 2", got)
	}
	if got := testutil.ToFloat64(f.m.met.sent); got != 1 {
		t.Errorf("sent = %v, want 1", got)
	}
}

// TestGiveUpAfterMaxAttempts: an endpoint that always fails gets
// MaxAttempts POSTs, then the notification is dropped and counted.
func TestGiveUpAfterMaxAttempts(t *testing.T) {
	r := newReceiver(t, func(int) int { return http.StatusBadGateway })
	f := newFixture(t, func(c *Config) { c.MaxAttempts = 3 }, r)
	f.create(t, "all", subscription(r, nil))
	f.reading(siteFI, "no2", 12)
	testenv.Eventually(t, 10*time.Second, "the notification given up", func() bool { return f.dropped(dropAttempts) == 1 })
	if n := r.callCount(); n != 3 {
		t.Errorf("%d POSTs, want 3", n)
	}
}

// TestDeadEndpointBoundedQueue: an endpoint that never answers holds one
// notification in flight; its queue keeps the newest QueueSize, drops
// and counts the oldest, and another subscription gets every change.
func TestDeadEndpointBoundedQueue(t *testing.T) {
	dead, good := newDeadReceiver(t), newReceiver(t, nil)
	f := newFixture(t, func(c *Config) { c.QueueSize = 3 }, dead, good)
	id := f.create(t, "all", subscription(dead, nil))
	f.create(t, "all", subscription(good, nil))

	f.reading(siteFI, "no2", 1)
	testenv.Eventually(t, 10*time.Second, "the first POST in flight", func() bool { return dead.callCount() == 1 })
	// One change at a time (the twin coalesces a burst of changes of one
	// entity for a subscriber that lags), each delivered to the good
	// endpoint while the dead one holds its first.
	for v := 1; v <= 10; v++ {
		if v > 1 {
			f.reading(siteFI, "no2", float64(v))
		}
		if d := data(t, good.wait(t, v)); d[0]["no2"].(map[string]any)["value"] != float64(v) {
			t.Fatalf("good endpoint's notification %d: %v", v, d)
		}
	}
	testenv.Eventually(t, 10*time.Second, "the dead endpoint's queue to be full", func() bool { return f.enqueued(id) == 10 })
	if got := f.dropped(dropQueueFull); got != 6 {
		t.Errorf("dropped{queue_full} = %v, want 6 (10 changes, 1 in flight, 3 queued)", got)
	}
	var kept []any
	for _, n := range f.queued(id) {
		var d []map[string]any
		if err := json.Unmarshal(n.data, &d); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, d[0]["no2"].(map[string]any)["value"])
	}
	if len(kept) != 3 || kept[0] != 8.0 || kept[2] != 10.0 {
		t.Errorf("queue holds %v, want the newest 8, 9, 10", kept)
	}
	if dead.callCount() != 1 {
		t.Errorf("dead endpoint got %d POSTs, want the one in flight", dead.callCount())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
	}{{"", -1}, {"0", 0}, {"7", 7 * time.Second}, {"-1", -1}, {"soon", -1},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second}, {now.Add(-time.Minute).Format(http.TimeFormat), 0}} {
		if got := parseRetryAfter(c.v, now); got != c.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", c.v, got, c.want)
		}
	}
}

// TestRetryAfterHonoured: a 503 with Retry-After: 0 is retried at once
// although the backoff would wait an hour.
func TestRetryAfterHonoured(t *testing.T) {
	r := newReceiver(t, nil)
	r.answer = func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	r.header = http.Header{"Retry-After": {"0"}}
	f := newFixture(t, func(c *Config) { c.RetryBase, c.RetryMax = time.Hour, time.Hour }, r)
	f.create(t, "all", subscription(r, nil))
	f.reading(siteFI, "no2", 12)
	r.wait(t, 1)
	if n := r.callCount(); n != 2 {
		t.Errorf("%d POSTs, want 2", n)
	}
}
