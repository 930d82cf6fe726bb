package api

import (
	"container/list"
	"net/http"
	"sync"
	"time"

	"github.com/ponte-city/ponte/internal/throttle"
)

// limiter keeps a token bucket per client IP, at most max of them: the
// least recently seen client is forgotten first (it comes back with a
// full bucket, which is what an idle client would have anyway after
// burst/rate seconds). It is safe for concurrent use.
type limiter struct {
	rate  float64 // tokens per second
	burst float64
	max   int

	mu      sync.Mutex
	buckets map[string]*list.Element // of *bucket
	lru     *list.List               // front: most recently seen
}

// bucket is one client's token bucket.
type bucket struct {
	ip     string
	tokens float64
	at     time.Time // when tokens was computed
}

func newLimiter(rate float64, burst, max int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), max: max, buckets: map[string]*list.Element{}, lru: list.New()}
}

// allow takes a token from ip's bucket at now. When there is none it
// returns false and how long until there is one.
func (l *limiter) allow(ip string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *bucket
	if e, ok := l.buckets[ip]; ok {
		l.lru.MoveToFront(e)
		b = e.Value.(*bucket)
		if dt := now.Sub(b.at).Seconds(); dt > 0 {
			b.tokens = min(l.burst, b.tokens+dt*l.rate)
			b.at = now
		}
	} else {
		if l.lru.Len() >= l.max {
			old := l.lru.Back()
			l.lru.Remove(old)
			delete(l.buckets, old.Value.(*bucket).ip)
		}
		b = &bucket{ip: ip, tokens: l.burst, at: now}
		l.buckets[ip] = l.lru.PushFront(b)
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// len is how many clients have a bucket.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// clientIP is the rate-limited client of r: the IP of its connection (not
// X-Forwarded-For, which any client can set), or for IPv6 its /64, the
// block one subscriber is given: otherwise a client could rotate
// addresses for fresh buckets.
func clientIP(r *http.Request) string { return throttle.Key(r.RemoteAddr) }
