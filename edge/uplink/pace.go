package uplink

import "time"

// pacer is a token bucket of readings: it refills at rate per second up to
// burst, and a batch of n readings may go when n tokens (at most burst)
// are there. So over any interval t from the start, at most
// burst + rate*t readings go out. A zero rate never delays. Not safe for
// concurrent use; the clock is passed in so tests can drive it.
type pacer struct {
	rate   float64
	burst  float64
	tokens float64
	at     time.Time
}

func newPacer(rate float64, burst int, now time.Time) *pacer {
	return &pacer{rate: rate, burst: float64(burst), tokens: float64(burst), at: now}
}

func (p *pacer) refill(now time.Time) {
	if d := now.Sub(p.at); d > 0 {
		p.tokens = min(p.burst, p.tokens+d.Seconds()*p.rate)
	}
	p.at = now
}

// wait returns how long to wait before n readings may go (0: now).
func (p *pacer) wait(n int, now time.Time) time.Duration {
	if p.rate <= 0 {
		return 0
	}
	p.refill(now)
	need := min(float64(n), p.burst)
	if p.tokens >= need {
		return 0
	}
	d := time.Duration((need - p.tokens) / p.rate * float64(time.Second))
	return max(d, time.Millisecond)
}

// take spends the tokens of n readings sent. Sending a batch larger than
// burst empties the bucket.
func (p *pacer) take(n int, now time.Time) {
	if p.rate <= 0 {
		return
	}
	p.refill(now)
	p.tokens = max(0, p.tokens-float64(n))
}
