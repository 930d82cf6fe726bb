package influx

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTakeLooksAheadBoundedly: a request takes its gateways' next jobs
// first only among the groupAhead jobs it looks through in all; past them
// it takes jobs in order, so that taking a request costs at most
// groupAhead looks beyond the jobs it takes, however many are queued. No
// InfluxDB is needed.
func TestTakeLooksAheadBoundedly(t *testing.T) {
	q := queueOf(t, Config{BatchSize: 1000})
	t0 := time.Unix(1_700_005_000, 0)
	queue := func(gw string, n int) {
		for k := range n {
			j := q.enc.encode(gw, floats("cab-"+strconv.Itoa(k), "v", t0, 1))
			if !q.enqueue(j) {
				t.Fatal("queue closed")
			}
		}
	}
	runs := func(b batch) string {
		var out []string
		for _, r := range b {
			if len(out) == 0 || out[len(out)-1] != r.j.gateway {
				out = append(out, r.j.gateway)
			}
		}
		return strings.Join(out, " ")
	}
	take := func() batch {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.takeLocked(nil)
	}

	// queued: a b a, then more jobs of gw-c than a request looks through,
	// then a: the second a is grouped with the first, the third is not
	queue("gw-a", 1)
	queue("gw-b", 1)
	queue("gw-a", 1)
	queue("gw-c", groupAhead+10)
	queue("gw-a", 1)
	b := take()
	// unbounded it would be "gw-a gw-b gw-c" (a a a b c...), in arrival
	// order "gw-a gw-b gw-a gw-c gw-a"
	if got, want := runs(b), "gw-a gw-b gw-c gw-a"; got != want || len(b) != groupAhead+14 {
		t.Errorf("request of %d lines by gateway %q, want %d lines %q", len(b), got, groupAhead+14, want)
	}
	if q.untaken != 0 || len(q.jobs) != 0 {
		t.Errorf("after taking everything: %d lines untaken in %d jobs", q.untaken, len(q.jobs))
	}

	// the bound is the request's, not each look's: a, 200 c, a, 200 c, a.
	// The second a is found 201 jobs on; the third lies 201 on from it,
	// within a look of its own but past what is left of the request's.
	queue("gw-a", 1)
	queue("gw-c", 200)
	queue("gw-a", 1)
	queue("gw-c", 200)
	queue("gw-a", 1)
	b = take()
	if got, want := runs(b), "gw-a gw-c gw-a"; got != want || len(b) != 403 {
		t.Errorf("request of %d lines by gateway %q, want 403 lines %q", len(b), got, want)
	}
}
