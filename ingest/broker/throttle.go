package broker

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// budgets keeps a token bucket of failed attempts per key (a source
// address or a username). A failure spends a token; a key whose bucket is
// empty is refused before its password is checked. At most max keys are
// kept: when full, keys whose bucket has refilled are forgotten (they
// would start full anyway), and if none has, an arbitrary one. It is safe
// for concurrent use.
type budgets struct {
	every time.Duration
	burst int
	max   int

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newBudgets(b Budget, max int) *budgets {
	return &budgets{every: b.Every, burst: b.Burst, max: max, m: map[string]*rate.Limiter{}}
}

// exhausted reports whether key has no failure left to spend.
func (b *budgets) exhausted(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.m[key]
	return ok && l.Tokens() < 1
}

// spend records a failure for key.
func (b *budgets) spend(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.m[key]
	if !ok {
		if len(b.m) >= b.max {
			b.forget()
		}
		l = rate.NewLimiter(rate.Every(b.every), b.burst)
		b.m[key] = l
	}
	l.Allow()
}

// forget drops refilled buckets, or one bucket if none has refilled.
// Called with mu held.
func (b *budgets) forget() {
	for k, l := range b.m {
		if l.Tokens() >= float64(b.burst) {
			delete(b.m, k)
		}
	}
	for k := range b.m {
		if len(b.m) < b.max {
			return
		}
		delete(b.m, k)
	}
}
