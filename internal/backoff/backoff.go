package backoff

import (
	"math/rand/v2"
	"time"
)

// Jitter says how a wait is randomised.
type Jitter uint8

const (
	// None waits exactly min(Max, Base*2^n).
	None Jitter = iota
	// Full waits uniformly in [0, d), d = min(Max, Base*2^n).
	Full
	// Equal waits uniformly in [d/2, d).
	Equal
)

// Policy is an exponential backoff. The zero Jitter is None. A Policy is a
// value without state: the caller counts its attempts, and one Policy may
// be used from several goroutines if Rand may.
type Policy struct {
	Base, Max time.Duration
	Jitter    Jitter
	// Rand returns a float in [0, 1); nil means math/rand/v2's Float64.
	Rand func() float64
}

// Wait returns the wait before retry attempt n (0-based; a negative n is
// 0). A Base of zero or less waits nothing; a Max below Base caps at Max.
func (p Policy) Wait(n int) time.Duration {
	d := p.ceil(n)
	if d <= 0 || p.Jitter == None {
		return d
	}
	r := rand.Float64
	if p.Rand != nil {
		r = p.Rand
	}
	if p.Jitter == Equal {
		half := d / 2
		return half + time.Duration(r()*float64(d-half))
	}
	return time.Duration(r() * float64(d))
}

// ceil is min(Max, Base*2^n) without overflow: Base<<n stays within
// Max, and so within int64, exactly when Base <= Max>>n.
func (p Policy) ceil(n int) time.Duration {
	if p.Base <= 0 {
		return 0
	}
	if p.Max < p.Base {
		return max(p.Max, 0)
	}
	n = max(n, 0)
	if n >= 63 || p.Base > p.Max>>n {
		return p.Max
	}
	return p.Base << n
}
