package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/wire"
)

// TestRecorder feeds polls of good and bad readings and checks the
// device states, the counts and that every reading reached the buffer
// intact and in order.
func TestRecorder(t *testing.T) {
	ctx := context.Background()
	buf, err := buffer.Open(ctx, buffer.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close(ctx)
	r := newRecorder(buf, nil, newMetrics(nil))
	r.setDevices([]string{"a", "b", "c"})
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	good := func(dev string, s int) wire.Reading {
		return wire.Reading{Device: dev, Point: "v", Value: wire.Float(1), Time: t0.Add(time.Duration(s) * time.Second)}
	}
	bad := func(dev string, s int) wire.Reading {
		return wire.Reading{Device: dev, Point: "v", Time: t0.Add(time.Duration(s) * time.Second), Quality: wire.QualityBadComm, Reason: "timeout"}
	}
	polls := [][]wire.Reading{
		{good("a", 1), bad("a", 1)}, // one good reading: ok
		{bad("b", 1), bad("b", 1)},  // all bad: failing
		{good("b", 2)},              // recovers
		{bad("a", 3)},               // fails after a good poll
		{good("zz", 3)},             // not a configured device: buffered, not tracked
	}
	var all []wire.Reading
	for _, p := range polls {
		r.emit(p)
		all = append(all, p...)
	}
	if err := r.wait(ctx); err != nil {
		t.Fatal(err)
	}
	states := r.states()
	cases := []struct {
		dev          string
		state        string
		lastGood     time.Time
		good, badN   uint64
		reasonPrefix string
	}{
		{"a", StateFailing, t0.Add(time.Second), 1, 2, "bad_comm: timeout"},
		{"b", StateOK, t0.Add(2 * time.Second), 1, 2, "bad_comm: timeout"},
		{"c", StateUnknown, time.Time{}, 0, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.dev, func(t *testing.T) {
			s := states[c.dev]
			if s.state != c.state || !s.lastGood.Equal(c.lastGood) || s.good != c.good || s.bad != c.badN || s.lastReason != c.reasonPrefix {
				t.Errorf("got %+v, want state %s last good %v good %d bad %d reason %q", s, c.state, c.lastGood, c.good, c.badN, c.reasonPrefix)
			}
		})
	}
	if _, ok := states["zz"]; ok {
		t.Error("unconfigured device tracked")
	}
	recs, err := buf.Read(0, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(all) {
		t.Fatalf("%d records buffered, want %d", len(recs), len(all))
	}
	for i, rec := range recs {
		got, err := wire.DecodeRecord(rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		if got.Device != all[i].Device || !got.Time.Equal(all[i].Time) || got.Quality != all[i].Quality {
			t.Errorf("record %d = %+v, want %+v", i, got, all[i])
		}
	}
	// A reload keeps the state of devices that stay.
	r.setDevices([]string{"b", "d"})
	states = r.states()
	if states["b"].state != StateOK || states["d"].state != StateUnknown || len(states) != 2 {
		t.Errorf("after setDevices: %+v", states)
	}
}

// TestRecorderBoundsText: a reading with a huge string value becomes a bad
// reading saying why, and the rest of its poll is buffered with it.
func TestRecorderBoundsText(t *testing.T) {
	ctx := context.Background()
	buf, err := buffer.Open(ctx, buffer.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close(ctx)
	r := newRecorder(buf, nil, newMetrics(nil))
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	huge := strings.Repeat("x", 2<<20) // over the buffer's 1 MiB record limit
	r.emit([]wire.Reading{
		{Device: "a", Point: "text", Value: wire.String(huge), Time: at},
		{Device: "a", Point: "v", Value: wire.Float(230.1), Time: at},
		{Device: "a", Point: "w", Time: at, Quality: wire.QualityBadComm, Reason: huge},
	})
	if err := r.wait(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := buf.Read(0, 10, 0)
	if err != nil || len(recs) != 3 {
		t.Fatalf("%d records buffered (%v), want all 3", len(recs), err)
	}
	text, _ := wire.DecodeRecord(recs[0].Data)
	v, _ := wire.DecodeRecord(recs[1].Data)
	w, _ := wire.DecodeRecord(recs[2].Data)
	if text.Quality != wire.QualityBadDecode || !strings.Contains(text.Reason, "over the 4096-byte limit") {
		t.Errorf("huge string became %+v", text)
	}
	if v.Value.F != 230.1 || !v.Quality.Good() {
		t.Errorf("the good reading of the poll became %+v", v)
	}
	if len(w.Reason) > MaxText+3 {
		t.Errorf("reason of %d bytes kept", len(w.Reason))
	}
}

// TestRecorderCommit: the emitter returns the buffer's commit handle, which
// reports the readings durable once fsynced, and a resolved failure when
// the buffer refused them (closed), so that a source never acknowledges
// what is not on disk.
func TestRecorderCommit(t *testing.T) {
	ctx := context.Background()
	buf, err := buffer.Open(ctx, buffer.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorder(buf, slog.New(slog.DiscardHandler), newMetrics(nil))
	rd := wire.Reading{Device: "a", Point: "v", Value: wire.Float(1), Time: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	c := r.emit([]wire.Reading{rd, rd})
	if err := source.Wait(ctx, c); err != nil {
		t.Fatalf("commit of a healthy buffer: %v", err)
	}
	if st := buf.Stats(); st.DurableSeq < 2 {
		t.Fatalf("commit reported durable with the buffer's durable seq at %d, want >= 2", st.DurableSeq)
	}
	if err := source.Wait(ctx, r.emit(nil)); err != nil {
		t.Fatalf("empty emit: %v, want an already durable commit", err)
	}
	if err := buf.Close(ctx); err != nil {
		t.Fatal(err)
	}
	c = r.emit([]wire.Reading{rd})
	select {
	case <-c.Done():
	default:
		t.Fatal("the commit of a refused append is not resolved at once")
	}
	if err := c.Err(); !errors.Is(err, buffer.ErrClosed) {
		t.Fatalf("commit after Close: %v, want ErrClosed", err)
	}
}

// BenchmarkRecorderEmit hands polls of 100 readings to the recorder, as a
// Modbus source does, into a real buffer with a 10 ms group commit. One op
// is one poll, so allocs/op is what one emit costs (the buffer's own copy
// of the poll included).
func BenchmarkRecorderEmit(b *testing.B) {
	ctx := context.Background()
	buf, err := buffer.Open(ctx, buffer.Config{Dir: b.TempDir(), SyncInterval: 10 * time.Millisecond, MemoryRecords: 1_000_000})
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close(ctx)
	r := newRecorder(buf, slog.New(slog.DiscardHandler), newMetrics(nil))
	r.setDevices([]string{"dev-001"})
	poll := make([]wire.Reading, 100)
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := range poll {
		poll[i] = wire.Reading{Device: "dev-001", Point: fmt.Sprintf("p%03d", i), Unit: "1", Value: wire.Int(int64(i)), Time: t0}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		r.emit(poll)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*len(poll))/time.Since(start).Seconds(), "readings/s")
	if err := r.wait(ctx); err != nil {
		b.Fatal(err)
	}
}
