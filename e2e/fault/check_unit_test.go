//go:build fault

package fault

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// TestJudge checks that the verdict sees each kind of failure: a missing
// point, another value, a point nothing explains, a reading applied twice
// or never, a given-up gap.
func TestJudge(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "ingest.log")
	testenv.WriteFile(t, log, `=== start
time=2026-01-01T00:00:00Z level=DEBUG msg="twin applied" component=twin gateway=gw1 epoch=7 seqs=1-3,5 readings=4
time=2026-01-01T00:00:01Z level=DEBUG msg="twin applied" component=twin gateway=gw1 epoch=7 seqs=3 readings=1
time=2026-01-01T00:00:01Z level=DEBUG msg="twin applied" component=twin gateway=gw1 epoch=8 seqs=4 readings=1
time=2026-01-01T00:00:02Z level=WARN msg="gateway dropped readings before sending them" gateway=gw1 epoch=7 readings=1 mark=4
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

// TestSimCheck checks that the simulator comparison tells a reading of
// the right meter from one of another meter.
func TestSimCheck(t *testing.T) {
	p, err := profile.Load(filepath.Join(repoRoot(t), "firmware-profiles", "eastron-sdm630-v2.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	u1, err := sim.NewModbusUnit(p, 1, simSeed(1)+1)
	if err != nil {
		t.Fatal(err)
	}
	// ponte-sim computes its values at its zone's hour of the day.
	zone, err := time.LoadLocation(sim.DefaultZone)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	var right, wrong []accepted
	for i := 0; i < 20; i++ {
		at := t0.Add(time.Duration(i) * 700 * time.Millisecond)
		// Half the registers were updated just before a whole second (the
		// end of one of the simulator's linear pieces, where its extremes
		// are), the others 300 ms before the poll.
		upd := at.Add(-300 * time.Millisecond)
		if i%2 == 1 {
			upd = at.Truncate(time.Second).Add(-time.Nanosecond)
		}
		v, err := u1.Value("voltage_l1", upd.In(zone))
		if err != nil {
			t.Fatal(err)
		}
		r := wire.Reading{Device: "m1", Point: "voltage_l1", Time: at, Value: v}
		right = append(right, accepted{seq: uint64(i + 1), r: r})
		r.Device = "m2"
		wrong = append(wrong, accepted{seq: uint64(i + 1), r: r})
	}
	devs := []string{"m1", "m2"}
	if n, bad, ex := simCheck(t, 1, devs, right, 1); n != 20 || bad != 0 {
		t.Errorf("the right meter: %d checked, %d misfits %v; want 20, 0", n, bad, ex)
	}
	if n, bad, _ := simCheck(t, 1, devs, wrong, 1); n != 20 || bad < 15 {
		t.Errorf("another meter's values: %d checked, %d misfits; want 20 checked, most misfits", n, bad)
	}
}
