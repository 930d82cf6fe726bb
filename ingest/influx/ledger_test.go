package influx

import (
	"context"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

// TestLedger: the queue settles a batch spanning two Write calls as the
// client reports it: refused lines go back to their own caller with the
// reason, the others come back to be sent again, and once they are
// written both callers return; a caller that gave up has its lines
// pruned before the next try. No InfluxDB is needed.
func TestLedger(t *testing.T) {
	q := queueOf(t, Config{MaxPending: 100, BatchSize: 100})
	base := time.Unix(1_700_000_000, 0)
	type result struct {
		rej []Rejected
		err error
	}
	write := func(dev string, n int) (context.CancelFunc, chan result) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan result, 1)
		go func() {
			rej, err := q.write(ctx, "gw-1", floats(dev, "v", base, n))
			done <- result{rej, err}
		}()
		return cancel, done
	}
	cancelA, doneA := write("cab-a", 2)
	defer cancelA()
	testenv.Eventually(t, 5*time.Second, "the first write queued", func() bool { return q.pending.Load() == 2 })
	_, doneB := write("cab-b", 3)
	testenv.Eventually(t, 5*time.Second, "both writes queued", func() bool { return q.pending.Load() == 5 })

	q.mu.Lock()
	b := q.takeLocked(nil)
	q.mu.Unlock()
	if len(b) != 5 {
		t.Fatalf("took %d lines, want 5", len(b))
	}
	// The 2nd line of the first job and the 1st of the second are
	// refused.
	rejected := 0
	rest := q.refused(b, map[int]string{1: "bad one", 2: "bad two"}, func(n int) { rejected = n })
	if rejected != 2 {
		t.Errorf("%d readings rejected, want 2", rejected)
	}
	if len(rest) != 3 {
		t.Fatalf("%d lines to send again, want 3", len(rest))
	}
	q.written(rest)
	for _, done := range []chan result{doneA, doneB} {
		select {
		case r := <-done:
			if r.err != nil || len(r.rej) != 1 {
				t.Fatalf("write returned %d rejected, %v; want 1 rejected", len(r.rej), r.err)
			}
			got := r.rej[0]
			if got.Reading.Device == "cab-a" && (got.Reason != "bad one" || !got.Reading.Time.Equal(base.Add(time.Microsecond))) ||
				got.Reading.Device == "cab-b" && (got.Reason != "bad two" || !got.Reading.Time.Equal(base)) {
				t.Errorf("rejection %q of %s at %v is not the line refused", got.Reason, got.Reading.Device, got.Reading.Time)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a write did not return once all of its lines were settled")
		}
	}
	if p := q.pending.Load(); p != 0 {
		t.Errorf("pending %d after settling, want 0", p)
	}

	// A caller that gives up: its lines are pruned, not sent.
	cancelC, doneC := write("cab-c", 4)
	testenv.Eventually(t, 5*time.Second, "write queued", func() bool { return q.pending.Load() == 4 })
	q.mu.Lock()
	b = q.takeLocked(nil)
	q.mu.Unlock()
	cancelC()
	if r := <-doneC; r.err == nil {
		t.Fatal("cancelled write returned no error")
	}
	if b = q.prune(b); len(b) != 0 {
		t.Errorf("%d lines left after pruning an abandoned write, want 0", len(b))
	}
	testenv.Eventually(t, 5*time.Second, "pruned lines released", func() bool { return q.pending.Load() == 0 })
}
