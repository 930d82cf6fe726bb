package sim

import (
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

var day = time.Date(2025, 5, 14, 0, 0, 0, 0, time.UTC)

func TestGeneratorDeterministic(t *testing.T) {
	pat := Pattern{Kind: PatternTraffic, Min: 10, Max: 60, Noise: 0.2}
	a, b, other := NewGenerator(7), NewGenerator(7), NewGenerator(8)
	same, differ := 0, 0
	for m := 0; m < 24*60; m += 7 {
		now := day.Add(time.Duration(m) * time.Minute)
		if a.Value("pm10", pat, now) != b.Value("pm10", pat, now) {
			t.Fatalf("%v: same seed gave different values", now)
		}
		if a.Value("pm10", pat, now) == other.Value("pm10", pat, now) {
			same++
		} else {
			differ++
		}
	}
	if differ == 0 {
		t.Errorf("seeds 7 and 8 gave the same series")
	}
	if same > differ/10 {
		t.Errorf("seeds 7 and 8 agreed on %d of %d instants", same, same+differ)
	}
}

func TestGeneratorBounds(t *testing.T) {
	g := NewGenerator(3)
	for _, pat := range []Pattern{
		{Kind: PatternConstant, Min: 228, Max: 232, Noise: 0.5},
		{Kind: PatternDaily, Min: 6, Max: 26, Peak: 15, Noise: 0.3},
		{Kind: PatternTraffic, Min: 20, Max: 1400, Noise: 1},
		{Kind: PatternParking, Min: 0, Max: 1, Noise: 0.45},
		{Kind: PatternRandom, Min: 49.95, Max: 50.05},
		{Kind: PatternToggle, Min: 0, Max: 1},
		{Kind: PatternTraffic, Min: 18, Max: 55, Noise: 0.1, Invert: true},
	} {
		t.Run(pat.Kind, func(t *testing.T) {
			for m := 0; m < 2*24*60; m += 5 {
				now := day.Add(time.Duration(m) * time.Minute)
				if v := g.Value("p", pat, now); v < pat.Min || v > pat.Max {
					t.Fatalf("%v: %g outside %g..%g", now, v, pat.Min, pat.Max)
				}
			}
		})
	}
}

func TestGeneratorShapes(t *testing.T) {
	at := func(h int) time.Time { return day.Add(time.Duration(h) * time.Hour) }
	for seed := int64(0); seed < 20; seed++ {
		g := NewGenerator(seed)
		traffic := Pattern{Kind: PatternTraffic, Min: 0, Max: 100, Noise: 0.1}
		if g.Value("flow", traffic, at(8)) <= g.Value("flow", traffic, at(3)) {
			t.Errorf("seed %d: traffic at 08:00 not above 03:00", seed)
		}
		if g.Value("flow", traffic, at(18)) <= g.Value("flow", traffic, at(23)) {
			t.Errorf("seed %d: traffic at 18:00 not above 23:00", seed)
		}
		parking := Pattern{Kind: PatternParking, Min: 0, Max: 100, Noise: 0.05}
		if g.Value("bays", parking, at(11)) <= g.Value("bays", parking, at(2)) {
			t.Errorf("seed %d: parking at 11:00 not above 02:00", seed)
		}
		temp := Pattern{Kind: PatternDaily, Min: 5, Max: 25, Peak: 15, Noise: 0.02}
		if g.Value("t", temp, at(15)) <= g.Value("t", temp, at(4)) {
			t.Errorf("seed %d: temperature at 15:00 not above 04:00", seed)
		}
	}
}

func TestCounterMonotonic(t *testing.T) {
	g := NewGenerator(5)
	pat := Pattern{Kind: PatternCounter, Max: 450, Noise: 0.2}
	prev := g.Value("vehicles", pat, day)
	for s := 1; s < 3*24*3600; s += 37 {
		v := g.Value("vehicles", pat, day.Add(time.Duration(s)*time.Second))
		if v < prev {
			t.Fatalf("counter fell from %g to %g at +%ds", prev, v, s)
		}
		prev = v
	}
	gain := g.Value("vehicles", pat, day.Add(time.Hour)) - g.Value("vehicles", pat, day)
	if gain <= 0 || gain > pat.Max {
		t.Errorf("counter gained %g in an hour, want 0 < gain <= %g", gain, pat.Max)
	}
}

func TestPatternFor(t *testing.T) {
	hint := &profile.Sim{Pattern: "daily", Min: 1, Max: 2, Peak: 9}
	tests := []struct {
		name   string
		pi     PointInfo
		kind   string
		lo, hi float64
	}{
		{"hint wins", PointInfo{Name: "x", Unit: "V", Sim: hint}, PatternDaily, 1, 2},
		{"mains voltage", PointInfo{Category: wire.CategoryEnergy, Name: "voltage_l1", Unit: "V"}, PatternDaily, 220, 240},
		{"frequency", PointInfo{Name: "frequency", Unit: "Hz"}, PatternRandom, 49.9, 50.1},
		{"energy", PointInfo{Name: "import_energy", Unit: "kWh"}, PatternCounter, 0, 100},
		{"pm10", PointInfo{Category: wire.CategoryAir, Name: "pm10", Unit: "ug/m3"}, PatternTraffic, 10, 60},
		{"temperature", PointInfo{Category: wire.CategoryWeather, Name: "air_temperature", Unit: "°C"}, PatternDaily, -10, 40},
		{"vehicle count", PointInfo{Category: wire.CategoryTraffic, Name: "vehicle_count", Type: profile.TypeUint32}, PatternCounter, 0, 1000},
		{"parking bay", PointInfo{Category: wire.CategoryParking, Name: "occupied", Type: profile.TypeBool}, PatternParking, 0, 1},
		{"range narrows", PointInfo{Name: "voltage", Unit: "V", Range: profile.Range{Max: fptr(230)}}, PatternDaily, 226, 230},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := PatternFor(tc.pi)
			if p.Kind != tc.kind {
				t.Errorf("kind %q, want %q", p.Kind, tc.kind)
			}
			if p.Min < tc.lo || p.Max > tc.hi || p.Max <= p.Min && p.Kind != PatternCounter {
				t.Errorf("bounds %g..%g, want within %g..%g", p.Min, p.Max, tc.lo, tc.hi)
			}
		})
	}
}
