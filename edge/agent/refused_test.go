package agent

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/wire"
)

// testRecorder is a recorder of devs over a buffer in a temporary
// directory, closed when the test ends.
func testRecorder(t *testing.T, devs ...string) *recorder {
	t.Helper()
	ctx := context.Background()
	buf, err := buffer.Open(ctx, buffer.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { buf.Close(ctx) })
	r := newRecorder(buf, nil, newMetrics(nil))
	r.setDevices(devs)
	return r
}

// TestRecorderRefused: ingest's reports of refused readings make a device
// that reads well "refused" while ingest refuses every reading of it, and
// "ok" again once a later reading of it is acknowledged without a report;
// a device only partly refused stays ok, with its refusals counted.
func TestRecorderRefused(t *testing.T) {
	r := testRecorder(t, "bay", "meter")
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	poll := func(dev string, s int) {
		r.emit([]wire.Reading{{Device: dev, Point: "v", Value: wire.Int(int64(s)), Time: t0.Add(time.Duration(s) * time.Second)}})
	}
	poll("bay", 1)   // seq 1
	poll("meter", 1) // seq 2
	poll("bay", 2)   // seq 3
	refusedBay := wire.Refused{Device: "bay", Count: 2, Reason: "time_out_of_range", Detail: "accepted window a to b",
		LastSeq: 3, LastPoint: "v", LastValue: "2", LastTime: t0.Add(2 * time.Second)}
	r.acked(wire.Ack{Seq: 3, Refused: []wire.Refused{refusedBay,
		{Device: "meter", Count: 1, Accepted: 4, Reason: "sink_rejected", LastSeq: 2, LastValue: "1"}}})

	status := func(dev string) (string, *RefusedStatus) {
		s := r.states()[dev]
		ds := deviceStatus(s)
		return ds.State, ds.Refused
	}
	state, ref := status("bay")
	if state != StateRefused || ref == nil || ref.Readings != 2 || ref.Reason != "time_out_of_range" || ref.Value != "2" || !ref.Time.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("bay: state %s, refused %+v; want refused, 2 readings, time_out_of_range, value 2", state, ref)
	}
	if state, ref := status("meter"); state != StateOK || ref == nil || ref.Readings != 1 {
		t.Fatalf("meter (partly refused): state %s, refused %+v; want ok with 1 refused", state, ref)
	}
	// Prometheus says it too: ponte_edge_device_up would show bay read.
	if v := testutil.ToFloat64(r.m.refused.WithLabelValues("bay")); v != 1 {
		t.Errorf("ponte_edge_device_refused{device=bay} = %v, want 1", v)
	}
	if v := testutil.ToFloat64(r.m.refused.WithLabelValues("meter")); v != 0 {
		t.Errorf("ponte_edge_device_refused{device=meter} = %v, want 0", v)
	}

	// A later reading of bay, refused too: still refused.
	poll("bay", 3) // seq 4
	refusedBay.LastSeq, refusedBay.Count = 4, 1
	r.acked(wire.Ack{Seq: 4, Refused: []wire.Refused{refusedBay}})
	if state, ref := status("bay"); state != StateRefused || ref.Readings != 3 {
		t.Fatalf("bay after a second refusal: %s %+v", state, ref)
	}
	// An ack reaching a later reading of bay without a report: ok again,
	// the count kept.
	poll("bay", 4) // seq 5
	r.acked(wire.Ack{Seq: 4})
	if state, _ := status("bay"); state != StateRefused {
		t.Fatalf("bay before its next reading is acknowledged: %s, want still refused", state)
	}
	r.acked(wire.Ack{Seq: 5})
	if state, ref := status("bay"); state != StateOK || ref.Readings != 3 {
		t.Fatalf("bay after an accepted reading: %s %+v, want ok with 3 refused", state, ref)
	}
	if v := testutil.ToFloat64(r.m.refused.WithLabelValues("bay")); v != 0 {
		t.Errorf("ponte_edge_device_refused{device=bay} = %v after an accepted reading, want 0", v)
	}
}
