package uplink

import (
	"time"

	"golang.org/x/time/rate"
)

// pacer caps the readings per second of a replay with a token bucket of
// readings (golang.org/x/time/rate, Ponte's one token bucket): it refills
// at rate per second up to burst and starts full, and a batch of n
// readings may go when n tokens are there. So over any interval t from
// the start, at most burst + rate*t readings go out. A batch larger than
// burst (not made today: burst is BatchMaxReadings) waits for a full
// bucket and empties it, where the limiter alone would refuse it for ever.
// A zero rate never delays (rate.Inf). Not safe for concurrent use by
// design of the sender, though the limiter is; the clock is passed in so
// tests can drive it.
type pacer struct {
	lim   *rate.Limiter
	burst int
}

func newPacer(readingsPerSec float64, burst int) *pacer {
	limit := rate.Limit(readingsPerSec)
	if readingsPerSec <= 0 {
		limit = rate.Inf
	}
	return &pacer{lim: rate.NewLimiter(limit, burst), burst: burst}
}

// wait returns how long to wait before n readings may go (0: now), at
// least a millisecond when not now. It asks the limiter for a reservation
// and hands it back: the tokens are spent by take, for the readings that
// went.
func (p *pacer) wait(n int, now time.Time) time.Duration {
	r := p.lim.ReserveN(now, min(n, p.burst))
	d := r.DelayFrom(now)
	r.CancelAt(now)
	if d <= 0 {
		return 0
	}
	return max(d, time.Millisecond)
}

// take spends the tokens of n readings sent, at most burst of them.
func (p *pacer) take(n int, now time.Time) {
	p.lim.ReserveN(now, min(n, p.burst))
}
