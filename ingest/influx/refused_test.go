package influx

import (
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/wire"
)

// TestRefusedPoints: readings InfluxDB refuses come back rejected with the
// server's reason, and the good readings of the same Write are stored.
func TestRefusedPoints(t *testing.T) {
	srv := influxtest.Start(t)
	t0 := time.Unix(1_700_001_000, 0)
	longDevice := "cab-" + strings.Repeat("x", 70_000) // series key over 1.8's 64 KiB
	tests := []struct {
		name    string
		setup   []wire.Reading // written first, must succeed
		write   []wire.Reading
		refused []int  // indices into write
		reason  string // fragment of every reason
	}{
		{
			name:  "conflict with an existing field",
			setup: []wire.Reading{{Device: "cab-1", Point: "level", Value: wire.Float(1.5), Time: t0}},
			write: []wire.Reading{
				{Device: "cab-1", Point: "level", Value: wire.Float(2.5), Time: t0.Add(1)},
				{Device: "cab-2", Point: "level", Value: wire.Int(3), Time: t0.Add(2)},
				{Device: "cab-2", Point: "other", Value: wire.Int(3), Time: t0.Add(2)},
				{Device: "cab-3", Point: "level", Value: wire.Int(4), Time: t0.Add(3)},
				{Device: "cab-3", Point: "level", Value: wire.Float(4.5), Time: t0.Add(4)},
			},
			refused: []int{1, 3},
			reason:  `field type conflict: input field "level" on measurement "energy" is type integer, already exists as type float`,
		},
		{
			name: "conflict inside one batch on a new field",
			write: []wire.Reading{
				{Device: "cab-1", Point: "fresh", Value: wire.Float(1), Time: t0.Add(10)},
				{Device: "cab-1", Point: "good", Value: wire.Float(1), Time: t0.Add(10)},
				{Device: "cab-2", Point: "good", Value: wire.Float(2), Time: t0.Add(11)},
				{Device: "cab-2", Point: "fresh", Value: wire.String("text"), Time: t0.Add(11)},
				{Device: "cab-3", Point: "good", Value: wire.Float(3), Time: t0.Add(12)},
			},
			refused: []int{3},
			reason:  "field type conflict",
		},
		{
			name: "series key too long",
			write: []wire.Reading{
				{Device: "cab-1", Point: "ok1", Value: wire.Float(1), Time: t0.Add(20)},
				{Device: longDevice, Point: "ok1", Value: wire.Float(1), Time: t0.Add(20)},
				{Device: "cab-2", Point: "ok1", Value: wire.Float(2), Time: t0.Add(21)},
			},
			refused: []int{1},
			reason:  "max key length exceeded",
		},
		{
			name: "refused locally",
			write: []wire.Reading{
				{Device: "cab-1", Point: "ok2", Value: wire.Float(1), Time: t0.Add(30)},
				{Device: "cab-1", Point: "nan", Value: wire.Float(0), Time: t0.Add(30)},
				{Device: "cab-1", Point: "time", Value: wire.Float(1), Time: t0.Add(30)},
			},
			refused: []int{1, 2},
			reason:  "",
		},
	}
	tests[3].write[1].Value.F = nan()
	s := sinkOn(t, srv)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.setup) > 0 {
				mustWrite(t, s, "gw-1", tt.setup)
			}
			before := s.Stats().Rejected
			rej, err := s.Write(t.Context(), "gw-1", tt.write)
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			want := map[string]bool{}
			for _, i := range tt.refused {
				want[key(tt.write[i])] = true
			}
			for _, r := range rej {
				if !want[key(r.Reading)] {
					t.Errorf("rejected a good reading %s: %s", key(r.Reading), r.Reason)
				}
				if !strings.Contains(r.Reason, tt.reason) {
					t.Errorf("reason %q does not say %q", clip(r.Reason), tt.reason)
				}
				delete(want, key(r.Reading))
			}
			for k := range want {
				t.Errorf("not rejected: %s", k)
			}
			if got := s.Stats().Rejected - before; got != int64(len(tt.refused)) {
				t.Errorf("Stats().Rejected grew by %d, want %d", got, len(tt.refused))
			}
			// Every good reading is stored.
			refused := map[int]bool{}
			for _, i := range tt.refused {
				refused[i] = true
			}
			for i, r := range tt.write {
				if refused[i] {
					continue
				}
				n := srv.Count(t, q(`SELECT count(%q) FROM "energy" WHERE device = '%s' AND time = %d`, r.Point, r.Device, r.Time.UnixNano()))
				if n != 1 {
					t.Errorf("good reading %s stored %d times", key(r), n)
				}
			}
			if !s.Healthy() {
				t.Error("refusals made the sink unhealthy")
			}
		})
	}
}

// key names a reading in test output.
func key(r wire.Reading) string {
	d := r.Device
	if len(d) > 20 {
		d = d[:20] + "..."
	}
	return d + "/" + r.Point + "@" + r.Time.Format(time.RFC3339Nano)
}
