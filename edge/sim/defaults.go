package sim

import (
	"strings"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// PointInfo is what PatternFor looks at to choose a point's pattern.
type PointInfo struct {
	Category wire.Category
	Name     string
	Unit     string
	Type     profile.Type
	// Bits is the width of a bitfield point.
	Bits  int
	Range profile.Range
	Sim   *profile.Sim
}

// PatternFor returns the point's pattern: its Sim hint when the profile
// gives one, otherwise a plausible default chosen from the unit, the name
// and the device's category (230 V mains, 50 Hz, PM10 following traffic,
// temperature peaking at 15:00, ...). A default is narrowed to the point's
// Range, so a simulated value never reads as bad_range by accident.
func PatternFor(pi PointInfo) Pattern {
	if pi.Sim != nil {
		return FromSim(pi.Sim)
	}
	p := defaultPattern(pi)
	if p.Kind == PatternCounter {
		return p
	}
	if r := pi.Range; r.Min != nil || r.Max != nil {
		lo, hi := p.Min, p.Max
		if r.Min != nil && lo < *r.Min {
			lo = *r.Min
		}
		if r.Max != nil && hi > *r.Max {
			hi = *r.Max
		}
		if lo > hi { // the default does not fit the range at all: use the range
			lo, hi = hi, lo
			if r.Min != nil {
				lo = *r.Min
			}
			if r.Max != nil {
				hi = *r.Max
			}
		}
		p.Min, p.Max = lo, hi
	}
	return p
}

func has(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func defaultPattern(pi PointInfo) Pattern {
	name := strings.ToLower(pi.Name)
	u := strings.ToLower(strings.ReplaceAll(pi.Unit, " ", ""))
	cat := pi.Category
	switch {
	case pi.Type == profile.TypeBool:
		return boolPattern(cat, name)
	case pi.Type == profile.TypeBitfield:
		return Pattern{Kind: PatternRandom, Max: float64(int(1)<<max(pi.Bits, 1) - 1)}
	}
	if p, ok := unitPattern(cat, name, u); ok {
		return p
	}
	switch {
	case has(name, "count", "vehicle", "passage", "total", "transit"):
		if cat == wire.CategoryTraffic {
			return Pattern{Kind: PatternCounter, Max: 450, Noise: 0.2}
		}
		return Pattern{Kind: PatternCounter, Max: 10, Noise: 0.2}
	case cat == wire.CategoryParking && has(name, "free", "avail", "vacant"):
		return Pattern{Kind: PatternParking, Min: 2, Max: 180, Noise: 0.05, Invert: true}
	case cat == wire.CategoryParking:
		return Pattern{Kind: PatternParking, Min: 5, Max: 190, Noise: 0.05}
	case cat == wire.CategorySignal:
		return Pattern{Kind: PatternRandom, Max: 7}
	case has(name, "pf", "power_factor", "cosphi", "cos_phi"):
		return Pattern{Kind: PatternRandom, Min: 0.88, Max: 0.99}
	case has(name, "status", "state", "mode", "error", "alarm"):
		return Pattern{Kind: PatternConstant}
	}
	if r := pi.Range; r.Min != nil && r.Max != nil {
		return Pattern{Kind: PatternDaily, Min: *r.Min, Max: *r.Max, Peak: 14, Noise: 0.05}
	}
	return Pattern{Kind: PatternDaily, Max: 100, Peak: 14, Noise: 0.05}
}

func boolPattern(cat wire.Category, name string) Pattern {
	switch {
	case has(name, "alarm", "fault", "error", "fail", "tamper", "door"):
		return Pattern{Kind: PatternConstant}
	case cat == wire.CategoryParking || has(name, "occup"):
		return Pattern{Kind: PatternParking, Max: 1, Noise: 0.45}
	case cat == wire.CategorySignal || has(name, "relay", "lamp", "light", "output"):
		return Pattern{Kind: PatternToggle, Max: 1}
	}
	return Pattern{Kind: PatternConstant}
}

// unitPattern picks a pattern from the unit (lower case, no spaces).
func unitPattern(cat wire.Category, name, u string) (Pattern, bool) {
	switch u {
	case "v":
		return Pattern{Kind: PatternDaily, Min: 226, Max: 236, Peak: 3, Noise: 0.05}, true
	case "hz":
		return Pattern{Kind: PatternRandom, Min: 49.95, Max: 50.05}, true
	case "kwh", "kvarh", "kvah":
		return Pattern{Kind: PatternCounter, Max: 6, Noise: 0.3}, true
	case "wh", "varh", "vah":
		return Pattern{Kind: PatternCounter, Max: 6000, Noise: 0.3}, true
	case "mwh":
		return Pattern{Kind: PatternCounter, Max: 0.006, Noise: 0.3}, true
	case "a":
		// Street lighting cabinets draw at night.
		return Pattern{Kind: PatternDaily, Min: 1, Max: 35, Peak: 0, Noise: 0.05}, true
	case "w", "var", "va":
		return Pattern{Kind: PatternDaily, Min: 300, Max: 8000, Peak: 0, Noise: 0.05}, true
	case "kw", "kvar", "kva":
		return Pattern{Kind: PatternDaily, Min: 0.3, Max: 8, Peak: 0, Noise: 0.05}, true
	case "ug/m3", "µg/m3", "μg/m3", "ug/m^3":
		switch {
		case has(name, "pm2", "pm25", "pm_2"):
			return Pattern{Kind: PatternTraffic, Min: 5, Max: 35, Noise: 0.1}, true
		case has(name, "pm1"):
			return Pattern{Kind: PatternTraffic, Min: 10, Max: 60, Noise: 0.1}, true
		case has(name, "no2", "nox", "no"):
			return Pattern{Kind: PatternTraffic, Min: 10, Max: 90, Noise: 0.1}, true
		case has(name, "o3", "ozone"):
			return Pattern{Kind: PatternDaily, Min: 20, Max: 120, Peak: 15, Noise: 0.1}, true
		case has(name, "so2"):
			return Pattern{Kind: PatternRandom, Min: 1, Max: 10}, true
		}
		return Pattern{Kind: PatternTraffic, Min: 5, Max: 50, Noise: 0.1}, true
	case "mg/m3":
		return Pattern{Kind: PatternTraffic, Min: 0.2, Max: 2, Noise: 0.1}, true
	case "ppm":
		if has(name, "co2") {
			return Pattern{Kind: PatternTraffic, Min: 410, Max: 600, Noise: 0.05}, true
		}
		return Pattern{Kind: PatternTraffic, Min: 0.1, Max: 2, Noise: 0.1}, true
	case "ppb":
		return Pattern{Kind: PatternTraffic, Min: 5, Max: 50, Noise: 0.1}, true
	case "°c", "c", "degc", "cel", "celsius", "degreecelsius":
		if has(name, "cabinet", "internal", "board", "cpu") {
			return Pattern{Kind: PatternDaily, Min: 22, Max: 45, Peak: 15, Noise: 0.03}, true
		}
		return Pattern{Kind: PatternDaily, Min: 6, Max: 26, Peak: 15, Noise: 0.03}, true
	case "%rh", "rh":
		return Pattern{Kind: PatternDaily, Min: 40, Max: 90, Peak: 5, Noise: 0.03}, true
	case "hpa", "mbar":
		return Pattern{Kind: PatternDaily, Min: 1008, Max: 1022, Peak: 10, Noise: 0.02}, true
	case "m/s":
		return Pattern{Kind: PatternDaily, Min: 0.5, Max: 8, Peak: 14, Noise: 0.3}, true
	case "km/h":
		if has(name, "wind", "gust") {
			return Pattern{Kind: PatternDaily, Min: 2, Max: 30, Peak: 14, Noise: 0.3}, true
		}
		return Pattern{Kind: PatternTraffic, Min: 18, Max: 55, Noise: 0.08, Invert: true}, true
	case "°", "deg":
		return Pattern{Kind: PatternRandom, Max: 359}, true
	case "mm", "mm/h":
		return Pattern{Kind: PatternCounter, Max: 0.1, Noise: 0.5}, true
	case "w/m2", "w/m^2":
		return Pattern{Kind: PatternDaily, Max: 850, Peak: 13, Noise: 0.1}, true
	case "lx", "lux":
		return Pattern{Kind: PatternDaily, Max: 50000, Peak: 13, Noise: 0.1}, true
	case "db", "dba", "db(a)":
		return Pattern{Kind: PatternTraffic, Min: 42, Max: 74, Noise: 0.05}, true
	case "veh/h", "vehicles/h", "1/h":
		return Pattern{Kind: PatternTraffic, Min: 20, Max: 1400, Noise: 0.1}, true
	case "veh", "vehicles":
		return Pattern{Kind: PatternCounter, Max: 450, Noise: 0.2}, true
	case "%":
		switch {
		case has(name, "humid"):
			return Pattern{Kind: PatternDaily, Min: 40, Max: 90, Peak: 5, Noise: 0.03}, true
		case has(name, "batt"):
			return Pattern{Kind: PatternConstant, Min: 88, Max: 100, Noise: 0.05}, true
		case cat == wire.CategoryParking:
			return Pattern{Kind: PatternParking, Min: 5, Max: 98, Noise: 0.05}, true
		case cat == wire.CategoryTraffic || has(name, "occup"):
			return Pattern{Kind: PatternTraffic, Min: 1, Max: 35, Noise: 0.1}, true
		}
		return Pattern{Kind: PatternRandom, Max: 100}, true
	}
	return Pattern{}, false
}
