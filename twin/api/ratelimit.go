package api

import (
	"container/list"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ponte-city/ponte/internal/throttle"
)

// limiter keeps a token bucket (golang.org/x/time/rate) per client IP, at
// most max of them: the least recently seen client is forgotten first (it
// comes back with a full bucket, which is what an idle client would have
// anyway after burst/rate seconds). It is safe for concurrent use.
type limiter struct {
	rate  rate.Limit // tokens per second
	burst int
	max   int

	mu      sync.Mutex
	buckets map[string]*list.Element // of *bucket
	lru     *list.List               // front: most recently seen
}

// bucket is one client's token bucket.
type bucket struct {
	ip  string
	lim *rate.Limiter
}

func newLimiter(perSec float64, burst, max int) *limiter {
	return &limiter{rate: rate.Limit(perSec), burst: burst, max: max, buckets: map[string]*list.Element{}, lru: list.New()}
}

// allow takes a token from ip's bucket at now. When there is none it
// takes nothing and returns false and how long until there is one.
func (l *limiter) allow(ip string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *bucket
	if e, ok := l.buckets[ip]; ok {
		l.lru.MoveToFront(e)
		b = e.Value.(*bucket)
	} else {
		if l.lru.Len() >= l.max {
			old := l.lru.Back()
			l.lru.Remove(old)
			delete(l.buckets, old.Value.(*bucket).ip)
		}
		b = &bucket{ip: ip, lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[ip] = l.lru.PushFront(b)
	}
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// len is how many clients have a bucket.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// clientIP is the rate-limited client of r: the IP of its connection (not
// X-Forwarded-For, which any client can set, unless the connection is from
// a trusted proxy: clientip.go), or for IPv6 its /64, the block one
// subscriber is given: otherwise a client could rotate addresses for
// fresh buckets.
func (a *API) clientIP(r *http.Request) string {
	return throttle.Key(forwardedClient(r, a.cfg.Public.TrustedProxies))
}
