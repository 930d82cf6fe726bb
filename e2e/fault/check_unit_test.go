//go:build fault

package fault

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/wire"
)

// TestJudge checks that the verdict sees each kind of failure: a missing
// point, another value, a point nothing explains, a reading applied twice
// or never, a given-up gap.
func TestJudge(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "ingest.log")
	writeFile(t, log, `=== start
time=2026-01-01T00:00:00Z level=DEBUG msg="twin applied" component=twin gateway=gw1 epoch=7 seqs=1-3,5 readings=4
time=2026-01-01T00:00:01Z level=DEBUG msg="twin applied" component=twin gateway=gw1 epoch=7 seqs=3 readings=1
time=2026-01-01T00:00:01Z level=DEBUG msg="twin applied" component=twin gateway=gw1 epoch=8 seqs=4 readings=1
time=2026-01-01T00:00:02Z level=WARN msg="sequence gap given up: the gateway no longer has these readings or they were refused" gateway=gw1 epoch=7 seqs=1 mark=4
`)
	logs, err := readIngestLog(log, map[string]uint64{"gw1": 7})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1700000000, 0)
	var recs []accepted
	points := map[pointKey]any{}
	for s := uint64(1); s <= 6; s++ {
		r := wire.Reading{Device: "m1", Point: "voltage", Time: t0.Add(time.Duration(s) * time.Second), Value: wire.Float(230.5)}
		recs = append(recs, accepted{seq: s, r: r})
		switch s {
		case 2: // missing
		case 3:
			points[pointKey{"m1", "voltage", r.Time.UnixNano()}] = json.Number("1")
		default:
			points[pointKey{"m1", "voltage", r.Time.UnixNano()}] = json.Number("230.5")
		}
	}
	points[pointKey{"m1", "voltage", t0.UnixNano()}] = json.Number("1")
	f := judge("gw1", 7, 5, recs, points, logs["gw1"])
	t.Log(f)
	if f.acked != 5 || f.held != 1 {
		t.Errorf("acked %d held %d, want 5 and 1", f.acked, f.held)
	}
	if ranges(f.missing) != "2" || ranges(f.wrongValue) != "3" || f.extra != 1 {
		t.Errorf("missing %v, other value %v, extra %d; want [2], [3], 1", f.missing, f.wrongValue, f.extra)
	}
	if ranges(f.twinTwice) != "3" || ranges(f.twinSkipped) != "4" {
		t.Errorf("twin twice %v, never %v; want [3], [4] (epoch 8 is another epoch)", f.twinTwice, f.twinSkipped)
	}
	if len(f.givenUp) != 1 {
		t.Errorf("given up %d, want 1", len(f.givenUp))
	}
}
