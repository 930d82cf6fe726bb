package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/wire"
)

// deadLetterCount returns ponte_ingest_dead_letters_total{gateway,reason}.
func deadLetterCount(t *testing.T, e *env, gw, reason string) float64 {
	t.Helper()
	for _, m := range gather(t, e.reg, "ponte_ingest_dead_letters_total") {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["gateway"] == gw && labels["reason"] == reason {
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// TestTimeOutOfRangeVisible: readings stamped outside ingest's window are
// dead-lettered, counted under their gateway and reason, the letter names
// device, point, time and the window, and a gateway that asked
// (FlagAckRefused) is told per device in its acknowledgement, while one
// that did not gets the plain ack it decodes.
func TestTimeOutOfRangeVisible(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	e := newEnv(t, func(c *service.Config) {
		c.Now = func() time.Time { return now }
		c.MaxFuture = time.Minute
		c.MaxAge = time.Hour
		c.Gateways = []string{"gw1", "gw2"}
	})
	mk := func(gw string, flags uint64) *wire.Batch {
		at := func(d time.Duration) time.Time { return now.Add(d) }
		return &wire.Batch{Gateway: gw, Epoch: 7, Flags: flags, Seqs: []uint64{1, 2, 3, 4, 5}, Readings: []wire.Reading{
			{Device: "bay-1", Point: "occupied", Value: wire.Bool(true), Time: at(time.Hour)},
			{Device: "meter-1", Point: "power", Value: wire.Float(1.5), Unit: "kW", Time: at(0)},
			{Device: "bay-1", Point: "occupied", Value: wire.Bool(false), Time: at(2 * time.Hour)},
			{Device: "loop-1", Point: "count", Value: wire.Int(4), Time: at(-2 * time.Hour)},
			{Device: "loop-1", Point: "count", Value: wire.Int(5), Time: at(-time.Minute)},
		}}
	}
	ctx := context.Background()
	res := e.svc.Process(ctx, job("gw1", encode(t, mk("gw1", wire.FlagAckRefused))))
	if res.Err != nil || res.Written != 2 || res.DeadLettered != 3 {
		t.Fatalf("result %+v, want 2 written and 3 dead-lettered", res)
	}
	if res.Ack.Seq != 5 {
		t.Errorf("ack seq %d, want 5: refused readings are acknowledged (the letter keeps them)", res.Ack.Seq)
	}
	want := []wire.Refused{
		{Device: "bay-1", Count: 2, Accepted: 0, Reason: service.ReasonTime, LastSeq: 3, LastPoint: "occupied", LastValue: "false", LastTime: now.Add(2 * time.Hour),
			Detail: "accepted window 2026-12-05T09:00:00Z to 2026-12-05T10:01:00Z"},
		{Device: "loop-1", Count: 1, Accepted: 1, Reason: service.ReasonTime, LastSeq: 4, LastPoint: "count", LastValue: "4", LastTime: now.Add(-2 * time.Hour),
			Detail: "accepted window 2026-12-05T09:00:00Z to 2026-12-05T10:01:00Z"},
	}
	if len(res.Ack.Refused) != len(want) {
		t.Fatalf("ack refused %+v, want %+v", res.Ack.Refused, want)
	}
	for i := range want {
		if got := res.Ack.Refused[i]; got != want[i] {
			t.Errorf("refused[%d] = %+v\nwant %+v", i, got, want[i])
		}
	}
	if _, err := wire.DecodeAck(wire.EncodeAck(res.Ack)); err != nil {
		t.Fatalf("the ack does not decode: %v", err)
	}

	// A gateway of batch version 2 gets a plain ack.
	res = e.svc.Process(ctx, job("gw2", encode(t, mk("gw2", 0))))
	if res.Err != nil || res.DeadLettered != 3 {
		t.Fatalf("version-2 batch: %+v", res)
	}
	if enc := string(wire.EncodeAck(res.Ack)); enc != `{"gateway":"gw2","epoch":7,"seq":5}` {
		t.Errorf("version-2 gateway gets ack %s, want a plain one", enc)
	}

	// A forged batch under an ID the configuration does not list adds no
	// series of its own.
	e.svc.Process(ctx, job("gw-forged", encode(t, mk("gw-forged", 0))))

	for _, c := range []struct {
		gw, reason string
		want       float64
	}{
		{"gw1", service.ReasonTime, 1},
		{"gw2", service.ReasonTime, 1},
		{"_other", service.ReasonUnknownGateway, 1},
		{"gw-forged", service.ReasonUnknownGateway, 0},
	} {
		if got := deadLetterCount(t, e, c.gw, c.reason); got != c.want {
			t.Errorf("ponte_ingest_dead_letters_total{gateway=%q,reason=%q} = %v, want %v", c.gw, c.reason, got, c.want)
		}
	}

	letters, err := deadletter.List(e.dlDir)
	if err != nil {
		t.Fatal(err)
	}
	var l *deadletter.Letter
	for i := range letters {
		if letters[i].Gateway == "gw1" {
			l = &letters[i]
		}
	}
	if l == nil || l.Reason != service.ReasonTime {
		t.Fatalf("no time_out_of_range letter of gw1 in %+v", letters)
	}
	wantWin := deadletter.Window{From: now.Add(-time.Hour), To: now.Add(time.Minute)}
	if l.Window == nil || !l.Window.From.Equal(wantWin.From) || !l.Window.To.Equal(wantWin.To) {
		t.Fatalf("letter window %+v, want %+v", l.Window, wantWin)
	}
	if len(l.Entries) != 3 || l.Readings != 3 {
		t.Fatalf("letter entries %+v (readings %d), want the 3 refused", l.Entries, l.Readings)
	}
	for _, en := range l.Entries {
		if en.Device == "" || en.Point == "" || l.Window.Contains(en.Time) {
			t.Errorf("entry %+v: want device, point and a time outside %+v", en, *l.Window)
		}
	}
	if !strings.Contains(l.Detail, "2026-12-05T10:01:00Z") {
		t.Errorf("detail %q does not name the window", l.Detail)
	}
}

// TestRefusedSummaryBounded: an ack names at most wire.MaxRefusedDevices
// devices and counts the rest.
func TestRefusedSummaryBounded(t *testing.T) {
	e := newEnv(t, func(c *service.Config) {
		c.Devices = map[string][]string{"gw1": {"known"}}
	})
	b := &wire.Batch{Gateway: "gw1", Epoch: 1, Flags: wire.FlagAckRefused}
	n := wire.MaxRefusedDevices + 5
	for i := range n {
		b.Seqs = append(b.Seqs, uint64(i+1))
		b.Readings = append(b.Readings, wire.Reading{Device: "dev-" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + string(rune('a'+i/26)),
			Point: "p", Value: wire.String(strings.Repeat("v", 1000)), Time: time.Now()})
	}
	res := e.svc.Process(context.Background(), job("gw1", encode(t, b)))
	if res.DeadLettered != n {
		t.Fatalf("dead-lettered %d, want %d", res.DeadLettered, n)
	}
	if len(res.Ack.Refused) != wire.MaxRefusedDevices || res.Ack.RefusedOmitted != 5 {
		t.Fatalf("ack lists %d devices, omits %d; want %d and 5", len(res.Ack.Refused), res.Ack.RefusedOmitted, wire.MaxRefusedDevices)
	}
	for _, r := range res.Ack.Refused {
		if r.Reason != service.ReasonUnknownDevice || len(r.LastValue) > wire.MaxRefusedText {
			t.Fatalf("refused %+v: want unknown_device and a value of at most %d bytes", r, wire.MaxRefusedText)
		}
	}
	if _, err := wire.DecodeAck(wire.EncodeAck(res.Ack)); err != nil {
		t.Fatalf("the bounded ack does not decode: %v", err)
	}
}
