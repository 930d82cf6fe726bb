package command

import (
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/wire"
)

// issued encodes a command issued at issued (ingest's clock) and expiring
// after ttl.
func issued(t *testing.T, id string, v float64, at time.Time, ttl time.Duration) []byte {
	t.Helper()
	data, err := wire.EncodeCommand(&wire.Command{ID: id, Device: "lamp-1", Point: "line_level", Value: v, Issued: at, Expires: at.Add(ttl)})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A gateway whose clock is 20 minutes behind would take a command that
// expired 5 minutes ago (by the real time) for a fresh one: it is refused
// and never written. Within ClockSkew, the command is written.
func TestClockBehindRefused(t *testing.T) {
	w := &fakeWriter{}
	clk := newClock()
	h := start(t, t.TempDir(), w, clk, &reporter{})
	real := clk.now()
	clk.set(real.Add(-20 * time.Minute))
	h.e.Handle(issued(t, "late-1", 10, real.Add(-10*time.Minute), 5*time.Minute))
	r := h.rep.waitFinal(t, "late-1", 1)
	if want := "gateway clock is 10m0s behind the command's issue time; not written"; r.Status != wire.StatusRefused || r.Detail != want {
		t.Errorf("report %+v, want refused %q", r, want)
	}
	h.e.Handle(issued(t, "skew-1", 20, clk.now().Add(DefaultClockSkew-time.Second), 5*time.Minute))
	if r := h.rep.waitFinal(t, "skew-1", 1); r.Status != wire.StatusApplied {
		t.Errorf("command issued within the clock skew: %+v, want applied", r)
	}
	if w.count() != 1 || w.calls[0].Value != 20 {
		t.Errorf("writes %+v, want only skew-1's", w.calls)
	}
}

// A source that finds the command expired right before it would send the
// write (source.ErrExpired) makes the command expired, not failed.
func TestExpiredAtTheSource(t *testing.T) {
	w := &fakeWriter{readback: func(float64) (float64, error) { return 0, source.ErrExpired }}
	h := start(t, t.TempDir(), w, newClock(), &reporter{})
	h.e.Handle(h.cmd(t, "src-1", "lamp-1", "line_level", 40))
	r := h.rep.waitFinal(t, "src-1", 1)
	if r.Status != wire.StatusExpired || !strings.Contains(r.Detail, "while waiting for the device's line; not written") {
		t.Errorf("report %+v, want expired, not written", r)
	}
}
