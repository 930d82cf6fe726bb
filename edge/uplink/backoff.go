package uplink

import (
	"math/rand/v2"
	"time"
)

// backoff returns the wait before reconnect attempt n (0-based): "full
// jitter", uniformly random in [0, min(max, base*2^n)). Spreading over the
// whole interval, rather than adding a little jitter to a fixed delay, is
// what keeps a fleet that lost the broker together from reconnecting in
// waves. rnd returns a float in [0, 1).
func backoff(n int, base, maxWait time.Duration, rnd func() float64) time.Duration {
	ceil := maxWait
	if n < 62 {
		if d := base << n; d > 0 && d < maxWait && d>>n == base {
			ceil = d
		}
	}
	return time.Duration(rnd() * float64(ceil))
}

// jitter is the production random source.
func jitter() float64 { return rand.Float64() }
