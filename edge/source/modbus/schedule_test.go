package modbus

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// A slot missed because the bus ran late (a descheduled process, a slow
// reply) is still polled, late, while the job is at most lateSlots
// behind; further behind, or back from backoff, the job skips to its next
// slot on its old phase.
func TestNextSlot(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	s := time.Second
	cases := []struct {
		name    string
		now     time.Duration // after t0, the slot just polled
		retried bool
		want    time.Duration
		skipped int
	}{
		{"on time", 200 * time.Millisecond, false, s, 0},
		{"next slot now", s, false, s, 0},
		{"one slot missed: polled late", 1500 * time.Millisecond, false, s, 0},
		{"two missed", 2900 * time.Millisecond, false, s, 0},
		{"further behind: skipped to the next slot", 4500 * time.Millisecond, false, 5 * s, 4},
		{"back from backoff: no burst", 1500 * time.Millisecond, true, 2 * s, 1},
		{"backoff ended before the next slot", 300 * time.Millisecond, true, s, 0},
	}
	for _, c := range cases {
		next, skipped := nextSlot(t0, s, t0.Add(c.now), c.retried)
		if got := next.Sub(t0); got != c.want || skipped != c.skipped {
			t.Errorf("%s: next slot at %v after skipping %d, want %v after %d", c.name, got, skipped, c.want, c.skipped)
		}
	}
}

// A bus that polls a job one slot late (its loop was descheduled past the
// slot) keeps the next slot due at once instead of skipping it, so the
// missed tick is polled late; a poll made at the end of a backoff moves
// the job to a slot to come. Slots are set in the past by hand: no clock.
func TestBusPollsMissedSlotLate(t *testing.T) {
	p := testProfile(profile.ModbusPoint{Name: "v", Table: profile.TableHolding, Address: 0, Type: profile.TypeUint16})
	l := &fakeLink{reply: func(context.Context, uint8, time.Duration, *Request) ([]byte, error) { return []byte{0, 1}, nil }}
	log := slog.New(slog.DiscardHandler)
	bs := &bus{key: "fake", link: l, metrics: source.NewMetrics(prometheus.NewRegistry()), log: log,
		backoff: func(int) time.Duration { return time.Hour }}
	d := newDevice(source.Device{Name: "dev", Profile: p, Address: "tcp://fake:502", Unit: 1, Interval: time.Hour}, log)
	bs.devs = []*device{d}
	j := d.jobs[0]
	var stamps []time.Time
	emit := func(rs []wire.Reading) source.Commit {
		stamps = append(stamps, rs[0].Time)
		return nil
	}

	// The slot an interval and a half ago is polled now: the one half an
	// interval ago was missed, and is due at once.
	slot := time.Now().Add(-3 * time.Hour / 2)
	j.next = slot
	bs.poll(context.Background(), d, j, emit)
	if _, nj, due := bs.nextJob(); nj != j || !due.Equal(slot.Add(time.Hour)) {
		t.Fatalf("next due %v after the late poll, want the missed slot %v", due, slot.Add(time.Hour))
	}
	bs.poll(context.Background(), d, j, emit) // the missed slot, late
	if !j.next.Equal(slot.Add(2 * time.Hour)) {
		t.Errorf("next slot %v, want %v", j.next, slot.Add(2*time.Hour))
	}
	if len(stamps) != 2 || stamps[1].Before(stamps[0]) || stamps[0].Before(slot.Add(time.Hour)) {
		t.Errorf("readings stamped %v: want the times they were read, after the missed slot", stamps)
	}
	if late, skipped := testutil.ToFloat64(bs.metrics.Late.WithLabelValues("dev")), testutil.ToFloat64(bs.metrics.Skipped.WithLabelValues("dev")); late != 1 || skipped != 0 {
		t.Errorf("counted %v late polls and %v skipped, want 1 (the first poll, an interval and a half after its slot) and 0", late, skipped)
	}

	// Back from backoff, past a slot: no burst, the next slot to come.
	j.next = slot
	d.retryAt = slot.Add(time.Hour / 2)
	bs.poll(context.Background(), d, j, emit)
	if !j.next.After(time.Now()) {
		t.Errorf("after a poll at a backoff's retry time the job is due at %v, in the past", j.next)
	}
}
