//go:build fault

package fault

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// simSeed is the --seed of gateway i's ponte-sim; each unit's values
// come from simSeed + unit.
func simSeed(i int) int64 { return int64(100 * i) }

// simCheck compares every step-th good reading of a gateway with the
// simulator's own values: ponte-sim computes each value from its seed,
// the point and the instant, and sets its registers every second (later
// when the machine stalls: the suite kills and restarts processes and
// InfluxDB under load). A reading is stamped when its poll starts, and the
// answer may come as late as the poll's timeout, so a reading acquired at
// T holds the value of some instant in (T-simLag, T+pollTimeout]. Another
// meter's values, or values of another time, still fall outside.
// The simulator's values over that window (taken where they have their
// extremes, see below) must bracket the reading, to float32 precision.
// It returns how many readings were checked, how many do not fit, and up
// to five of those.
// simLag is how far behind a reading's time the simulator's registers may
// be: its one-second update period and a stall of up to two seconds.
const simLag = 3 * time.Second

func simCheck(t *testing.T, gwIndex int, devices []string, recs []accepted, step int) (checked, misfits int, examples []string) {
	t.Helper()
	p, err := profile.Load(filepath.Join(repoRoot(t), "firmware-profiles", "eastron-sdm630-v2.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// ponte-sim's clock runs in its zone (Italy by default): the values
	// follow that hour of the day, whatever this machine's zone.
	zone, err := time.LoadLocation(sim.DefaultZone)
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]*sim.ModbusUnit{}
	for i, d := range devices {
		u, err := sim.NewModbusUnit(p, uint8(i+1), simSeed(gwIndex)+int64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		units[d] = u
	}
	for i := 0; i < len(recs); i += step {
		r := &recs[i].r
		u, ok := units[r.Device]
		if !ok || !r.Quality.Good() || r.Value.Kind != wire.KindFloat {
			continue
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		// Within each whole second the simulator's value is linear: its
		// daily pattern reads the time to the second (a step at each whole
		// second) and its noise is linear between knots at whole minutes.
		// So its extremes over the window are at the window's ends, at whole
		// seconds, and just before them (the left end of each step): a
		// register updated at xx.999 holds the value there, which a grid
		// (25 ms, kept as well) misses by up to its spacing.
		var at []time.Time
		from, to := r.Time.Add(-simLag), r.Time.Add(pollTimeout)
		for d := -simLag; d <= pollTimeout; d += 25 * time.Millisecond {
			at = append(at, r.Time.Add(d))
		}
		at = append(at, from, to)
		for s := from.Truncate(time.Second); !s.After(to); s = s.Add(time.Second) {
			if !s.Before(from) {
				at = append(at, s)
			}
			if before := s.Add(-time.Nanosecond); !before.Before(from) && !before.After(to) {
				at = append(at, before)
			}
		}
		for _, t := range at {
			v, err := u.Value(r.Point, t.In(zone))
			if err != nil {
				break
			}
			f, _ := v.AsFloat()
			lo, hi = math.Min(lo, f), math.Max(hi, f)
		}
		if math.IsInf(lo, 0) {
			continue
		}
		checked++
		tol := 1e-6*math.Max(math.Abs(lo), math.Abs(hi)) + 1e-9
		if r.Value.F < lo-tol || r.Value.F > hi+tol {
			misfits++
			if len(examples) < 5 {
				examples = append(examples, fmt.Sprintf("seq %d %s %s at %s = %v, simulator gave %v..%v",
					recs[i].seq, r.Device, r.Point, r.Time.Format("15:04:05.000"), r.Value.F, lo, hi))
			}
		}
	}
	return checked, misfits, examples
}
