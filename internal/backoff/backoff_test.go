package backoff

import (
	"math"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	const s, ms = time.Second, time.Millisecond
	almost1 := math.Nextafter(1, 0)
	tests := []struct {
		name      string
		p         Policy
		n         int
		r         float64 // what Rand returns
		want      time.Duration
		wantAbove time.Duration // for r = almost1: want is a bound, the wait is in (wantAbove, want)
	}{
		{name: "first attempt waits base", p: Policy{Base: s, Max: time.Minute}, n: 0, want: s},
		{name: "doubles", p: Policy{Base: s, Max: time.Minute}, n: 3, want: 8 * s},
		{name: "capped", p: Policy{Base: s, Max: time.Minute}, n: 6, want: time.Minute},
		{name: "negative attempt is the first", p: Policy{Base: s, Max: time.Minute}, n: -5, want: s},
		{name: "base above max waits max", p: Policy{Base: time.Hour, Max: time.Minute}, n: 0, want: time.Minute},
		{name: "zero base waits nothing", p: Policy{Max: time.Minute}, n: 10, want: 0},
		{name: "no overflow at 62", p: Policy{Base: 1, Max: math.MaxInt64}, n: 62, want: 1 << 62},
		{name: "no overflow at 63", p: Policy{Base: 1, Max: math.MaxInt64}, n: 63, want: math.MaxInt64},
		{name: "no overflow past the cap", p: Policy{Base: 3, Max: math.MaxInt64}, n: 62, want: math.MaxInt64},
		{name: "no overflow for huge n", p: Policy{Base: ms, Max: time.Hour}, n: math.MaxInt, want: time.Hour},
		{name: "full jitter low", p: Policy{Base: s, Max: time.Minute, Jitter: Full}, n: 2, r: 0, want: 0},
		{name: "full jitter middle", p: Policy{Base: s, Max: time.Minute, Jitter: Full}, n: 2, r: 0.5, want: 2 * s},
		{name: "full jitter high stays below the ceiling", p: Policy{Base: s, Max: time.Minute, Jitter: Full}, n: 2, r: almost1, want: 4 * s, wantAbove: 4*s - ms},
		{name: "full jitter of the cap", p: Policy{Base: time.Hour, Max: time.Hour, Jitter: Full}, n: 3, r: 0.5, want: 30 * time.Minute},
		{name: "full jitter huge n", p: Policy{Base: ms, Max: time.Hour, Jitter: Full}, n: 1 << 40, r: 0.25, want: 15 * time.Minute},
		{name: "equal jitter low keeps half", p: Policy{Base: s, Max: time.Minute, Jitter: Equal}, n: 1, r: 0, want: s},
		{name: "equal jitter middle", p: Policy{Base: s, Max: time.Minute, Jitter: Equal}, n: 1, r: 0.5, want: 1500 * ms},
		{name: "equal jitter high", p: Policy{Base: s, Max: time.Minute, Jitter: Equal}, n: 1, r: almost1, want: 2 * s, wantAbove: 2*s - ms},
		{name: "equal jitter of one nanosecond", p: Policy{Base: 1, Max: 1, Jitter: Equal}, n: 0, r: 0, want: 0},
		{name: "jitter of nothing", p: Policy{Max: s, Jitter: Full}, n: 0, r: 0.5, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.Rand = func() float64 { return tc.r }
			got := p.Wait(tc.n)
			if tc.wantAbove != 0 {
				if got <= tc.wantAbove || got >= tc.want {
					t.Fatalf("Wait(%d) = %s, want in (%s, %s)", tc.n, got, tc.wantAbove, tc.want)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("Wait(%d) = %s, want %s", tc.n, got, tc.want)
			}
		})
	}
}

// TestDoublingToTheCap is the edge sources' sequence (from edge/source's
// former Backoff): 1, 2, 4, 8, then the cap.
func TestDoublingToTheCap(t *testing.T) {
	for n, want := range []int{1, 2, 4, 8, 10, 10} {
		if got := (Policy{Base: 1, Max: 10}).Wait(n); int(got) != want {
			t.Errorf("Wait(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestFullJitterBounds is the uplink's reconnect property: every attempt's
// wait is in [0, min(Max, Base*2^n)) and scales with the random value.
func TestFullJitterBounds(t *testing.T) {
	base, maxWait := 100*time.Millisecond, 5*time.Second
	for n := range 100 {
		ceil := maxWait
		if n < 6 {
			ceil = base << n
		}
		for _, r := range []float64{0, 0.5, math.Nextafter(1, 0)} {
			d := Policy{Base: base, Max: maxWait, Jitter: Full, Rand: func() float64 { return r }}.Wait(n)
			if d < 0 || d >= ceil || (r > 0 && d < time.Duration(float64(ceil)*r)-1) {
				t.Fatalf("attempt %d, random %v: %s, want %v of [0, %s)", n, r, d, r, ceil)
			}
		}
	}
}

// TestDefaultRand checks the waits drawn from math/rand/v2 stay in range.
func TestDefaultRand(t *testing.T) {
	for _, j := range []Jitter{Full, Equal} {
		p := Policy{Base: time.Second, Max: time.Second, Jitter: j}
		lo := time.Duration(0)
		if j == Equal {
			lo = 500 * time.Millisecond
		}
		for range 1000 {
			if d := p.Wait(0); d < lo || d >= time.Second {
				t.Fatalf("jitter %d: %s, want in [%s, 1s)", j, d, lo)
			}
		}
	}
}
