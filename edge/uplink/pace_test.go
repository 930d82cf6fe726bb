package uplink

import (
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

// TestPacerBound drives a greedy sender with a fake clock: however the
// batches fall, what went out by time t never exceeds burst + rate*t, and
// the sender is not slower than the rate either.
func TestPacerBound(t *testing.T) {
	cases := []struct {
		name  string
		rate  float64
		burst int
		batch int
	}{
		{"batches of the burst size", 1000, 100, 100},
		{"smaller batches", 1000, 100, 7},
		{"slow rate", 3, 10, 10},
		{"fast rate", 1e6, 1000, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Unix(1000, 0)
			p := newPacer(tc.rate, tc.burst)
			now, sent := t0, 0
			end := t0.Add(10 * time.Second)
			for steps := 0; now.Before(end) && steps < 1_000_000; steps++ {
				if d := p.wait(tc.batch, now); d > 0 {
					now = now.Add(d)
					continue
				}
				p.take(tc.batch, now)
				sent += tc.batch
				elapsed := now.Sub(t0).Seconds()
				if limit := float64(tc.burst) + tc.rate*elapsed; float64(sent) > limit+1e-6 {
					t.Fatalf("sent %d by %.3fs, limit %.1f", sent, elapsed, limit)
				}
			}
			if want := tc.rate*10 - float64(tc.batch); float64(sent) < want {
				t.Errorf("sent %d in 10s, want at least %.0f", sent, want)
			}
		})
	}
}

func TestPacerZeroRateNeverWaits(t *testing.T) {
	p := newPacer(0, 10)
	for i := range 100 {
		if d := p.wait(1000, time.Unix(0, int64(i))); d != 0 {
			t.Fatalf("zero rate waits %s", d)
		}
		p.take(1000, time.Unix(0, int64(i)))
	}
}

// TestPacerLargeBatch: a batch above the burst waits for a full bucket
// (not for ever, as rate.Limiter alone would refuse it) and empties it; a
// partly spent bucket says how long until a batch fits.
func TestPacerLargeBatch(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := newPacer(100, 10) // 10 readings per 100ms
	if d := p.wait(50, t0); d != 0 {
		t.Fatalf("full bucket, batch of 50 > burst 10: wait %s, want 0", d)
	}
	p.take(50, t0)
	if d := p.wait(10, t0); d != 100*time.Millisecond {
		t.Fatalf("after the large batch: wait %s, want 100ms (the bucket is empty, not in debt)", d)
	}
	if d := p.wait(4, t0.Add(20*time.Millisecond)); d != 20*time.Millisecond {
		t.Fatalf("2 tokens, 4 wanted: wait %s, want 20ms", d)
	}
	// Asking does not spend: the same question has the same answer.
	if d := p.wait(4, t0.Add(20*time.Millisecond)); d != 20*time.Millisecond {
		t.Fatalf("asked again: wait %s, want 20ms", d)
	}
	if d := p.wait(4, t0.Add(40*time.Millisecond)); d != 0 {
		t.Fatalf("4 tokens, 4 wanted: wait %s, want 0", d)
	}
}

// TestReplayPacing replays a backlog with ReplayRate set. Arrival times
// are taken after the fact and the clock starts before Run, so the bound
// can only be loose in the safe direction on a busy machine.
func TestReplayPacing(t *testing.T) {
	broker := testenv.Mosquitto(t)
	a := newAcker(t, broker.URL, ackContig)
	b := openBuf(t)
	const n, rate, batch = 3000, 2000.0, 100
	produceDurable(t, b, 0, n)
	cfg := baseConfig(broker.URL)
	cfg.BatchMaxReadings = batch
	cfg.ReplayRate = rate
	cfg.AckTimeout = time.Minute
	t0 := time.Now()
	start(t, cfg, b)
	drained(t, b, a, n, 30*time.Second)
	a.check(t, b.Epoch(), n)

	a.mu.Lock()
	defer a.mu.Unlock()
	// The burst is one batch; the last batch, with no backlog behind it,
	// is not paced.
	slack := float64(2 * batch)
	for _, ar := range a.arrivals {
		el := ar.at.Sub(t0).Seconds()
		if limit := slack + rate*el; float64(ar.distinct) > limit {
			t.Errorf("%d readings arrived %.3fs after start, more than %.0f", ar.distinct, el, limit)
		}
	}
	took := a.arrivals[len(a.arrivals)-1].at.Sub(t0)
	if floor := time.Duration((n - slack) / rate * float64(time.Second)); took < floor {
		t.Errorf("replay of %d readings at %v/s took %s, less than %s", n, rate, took, floor)
	}
	t.Logf("replayed %d readings in %s (%.0f readings/s, cap %v)", n, took, n/took.Seconds(), rate)
}
