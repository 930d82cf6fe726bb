package sim

import (
	"hash/fnv"
	"math"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
)

// Pattern kinds, as profile.Sim.Pattern names them.
const (
	PatternConstant = "constant"
	PatternDaily    = "daily"
	PatternTraffic  = "traffic"
	PatternParking  = "parking"
	PatternCounter  = "counter"
	PatternRandom   = "random"
	PatternToggle   = "toggle"
)

// Pattern says how a point's value moves over a day. The zero Pattern is a
// constant 0.
type Pattern struct {
	// Kind is one of the Pattern* constants.
	Kind string
	// Min and Max bound the value; for PatternCounter, Max is the increase
	// per hour and Min the value at the counter's origin.
	Min, Max float64
	// Peak is the hour of the day (0-24) of the maximum, for PatternDaily.
	Peak float64
	// Noise is the relative noise, 0..1.
	Noise float64
	// Invert makes the value fall when the day's shape rises (free parking
	// bays, speed on a congested road).
	Invert bool
}

// FromSim converts a profile's sim hint.
func FromSim(s *profile.Sim) Pattern {
	return Pattern{Kind: s.Pattern, Min: s.Min, Max: s.Max, Peak: s.Peak, Noise: s.Noise}
}

// counterOrigin is where every simulated counter starts, so a counter's
// value depends only on the time asked for and stays small enough for a
// 32-bit register for decades.
var counterOrigin = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// noiseKnot is the spacing of the noise knots; noise is interpolated
// between them, so a series is smooth at any update rate.
const noiseKnot = 60

// togglePeriod is how long a toggle point keeps each state.
const togglePeriod = 5 * 60

// Generator produces deterministic values: the same seed, point name,
// pattern and instant always give the same value, whatever was asked
// before. It has no state, so it is safe for concurrent use.
type Generator struct {
	seed int64
}

// NewGenerator returns a generator for the seed.
func NewGenerator(seed int64) Generator { return Generator{seed: seed} }

// Value returns the point's value at now. The hour of the day is taken in
// now's location, so rush hours fall at local 8:00 and 18:00 when now is
// local time. Apart from counters (which only grow) the result stays
// within Min..Max (for PatternConstant, Min..Max when Max > Min).
func (g Generator) Value(point string, p Pattern, now time.Time) float64 {
	key := g.key(point)
	sec := now.Unix()
	lo, hi := p.Min, p.Max
	switch p.Kind {
	case PatternCounter:
		h := now.Sub(counterOrigin).Hours()
		if h < 0 {
			return lo
		}
		// Each counter runs at its own steady rate a little under Max per
		// hour, so it is monotonic and counters of one device differ.
		rate := p.Max * (1 - p.Noise*unit(mix(key, 1)))
		return lo + rate*h
	case PatternToggle:
		if lo == 0 && hi == 0 {
			hi = 1
		}
		if (sec/togglePeriod+int64(mix(key, 2)&1))%2 == 0 {
			return lo
		}
		return hi
	case PatternConstant:
		v := lo
		if hi > lo {
			v = (lo + hi) / 2
		}
		v *= 1 + p.Noise*(2*g.noise(key, sec, now)-1)
		if hi > lo {
			v = clamp(v, lo, hi)
		}
		return v
	case PatternRandom:
		return lo + (hi-lo)*g.noise(mix(key, 3), sec, now)
	}
	// Day shapes: each point is shifted by up to half an hour either way,
	// so a street's sensors do not move in lockstep.
	h := hourOfDay(now) + (unit(mix(key, 4))-0.5)*1.0
	var s float64
	switch p.Kind {
	case PatternDaily:
		s = 0.5 + 0.5*math.Cos(2*math.Pi*(h-p.Peak)/24)
	case PatternTraffic:
		s = trafficShape(h)
	case PatternParking:
		s = parkingShape(h)
	default:
		return lo
	}
	if p.Invert {
		s = 1 - s
	}
	v := lo + (hi-lo)*s
	v += (hi - lo) * p.Noise * (2*g.noise(key, sec, now) - 1)
	return clamp(v, lo, hi)
}

// trafficShape is 0..1: a night low around 3:00, a sharp morning rush at
// 8:00, a daytime plateau and a broader evening rush around 18:00.
func trafficShape(h float64) float64 {
	h = math.Mod(h+24, 24)
	morning := gauss(h, 8, 1.1)
	evening := 0.9 * gauss(h, 17.8, 1.6)
	day := 0.5 * sigmoid((h-6.5)*1.5) * sigmoid((21-h)*1.0)
	return math.Max(0.04, math.Max(day, math.Max(morning, evening)))
}

// parkingShape is 0..1: bays fill from 7:00 to 9:00 and empty in the
// evening, with a few cars staying overnight.
func parkingShape(h float64) float64 {
	h = math.Mod(h+24, 24)
	return 0.1 + 0.85*sigmoid((h-8)*1.5)*sigmoid((19.5-h)*1.2)
}

func gauss(x, mu, sigma float64) float64 {
	d := (x - mu) / sigma
	return math.Exp(-d * d / 2)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func clamp(v, lo, hi float64) float64 {
	if lo > hi {
		lo, hi = hi, lo
	}
	return math.Max(lo, math.Min(hi, v))
}

func hourOfDay(t time.Time) float64 {
	return float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600
}

// noise is smooth value noise in 0..1, interpolated between knots.
func (g Generator) noise(key uint64, sec int64, now time.Time) float64 {
	k := floorDiv(sec, noiseKnot)
	frac := (float64(sec-k*noiseKnot) + float64(now.Nanosecond())/1e9) / noiseKnot
	a, b := unit(mix(key, uint64(k))), unit(mix(key, uint64(k+1)))
	return a + (b-a)*frac
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) {
		q--
	}
	return q
}

func (g Generator) key(point string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(point))
	return mix(h.Sum64(), uint64(g.seed))
}

// mix combines two words with the splitmix64 finaliser.
func mix(a, b uint64) uint64 {
	z := a ^ (b + 0x9e3779b97f4a7c15 + (a << 6) + (a >> 2))
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// unit maps a hash to 0..1.
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }
