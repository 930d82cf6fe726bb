package api

import (
	"sync"
)

// Tenants' shares of the streams and tickets. Tenants (one per
// municipality) share one API but do not trust each other: a tenant's
// tokens may hold at most MaxStreamsPerScope streams at once (beyond it
// 429, naming the limit and the tenant) and scopeTickets unused stream
// tickets (beyond it the scope's own oldest ticket goes, never another
// scope's). The platform's tokens (the whole twin) have a share of their
// own. The default stream share is MaxStreams/(tenants+1), at least
// minStreamsPerScope; the ticket share maxTickets/(tenants+1), at least
// minTicketsPerScope, and the ticket pool grows to hold every share, so
// no scope's tickets are ever dropped for another's.
const (
	minStreamsPerScope = 50
	minTicketsPerScope = 100
)

// streamsPerScope is the default MaxStreamsPerScope for tenants tenants.
func streamsPerScope(maxStreams, tenants int) int {
	return min(maxStreams, max(minStreamsPerScope, maxStreams/(tenants+1)))
}

// ticketLimits returns the unused tickets held in all and per scope.
func ticketLimits(tenants int) (total, perScope int) {
	perScope = max(minTicketsPerScope, maxTickets/(tenants+1))
	return max(maxTickets, (tenants+1)*perScope), perScope
}

// scopeCounter counts what each scope holds (streams open). It is safe
// for concurrent use.
type scopeCounter struct {
	mu sync.Mutex
	n  map[string]int
}

// acquire counts one more for key unless key holds limit already.
func (c *scopeCounter) acquire(key string, limit int) (held int, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	if c.n[key] >= limit {
		return c.n[key], false
	}
	c.n[key]++
	return c.n[key], true
}

// release counts one less for key.
func (c *scopeCounter) release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[key]--; c.n[key] <= 0 {
		delete(c.n, key)
	}
}
