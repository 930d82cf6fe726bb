package api

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ponte-city/ponte/twin"
)

// Stream tickets. A browser's EventSource cannot set an Authorization
// header, and a token in a URL ends up in proxies' and servers' access
// logs; so the map asks, with its token in the header, for a ticket
// (POST /api/v1/stream/ticket) and opens the stream with ?ticket=. A
// ticket is random (128 bits), good for one stream opened within
// TicketTTL, and then gone: a logged URL is worth nothing.
const (
	// TicketTTL is how long a stream ticket may wait before it is used.
	TicketTTL = 60 * time.Second
	// maxTickets bounds the unused tickets held; beyond it the oldest go.
	maxTickets = 10000
)

// ticketAnswer is the body of POST /api/v1/stream/ticket.
type ticketAnswer struct {
	Ticket  string    `json:"ticket"`
	Expires time.Time `json:"expires"`
}

// tickets holds the issued, unused stream tickets. It is safe for
// concurrent use.
type tickets struct {
	// total and perScope bound the unused tickets held in all and per
	// scope (shares.go; 0: maxTickets, no share).
	total, perScope int

	mu     sync.Mutex
	issued map[string]ticket
}

// ticket is an issued ticket: its expiry and the scope of the token that
// asked for it, which the stream it opens has.
type ticket struct {
	expires time.Time
	scope   twin.Scope
	key     string // scope.Key(), kept: the shares compare it on every issue
}

// issue returns a new ticket for scope valid until now+TicketTTL.
func (t *tickets) issue(now time.Time, scope twin.Scope) (string, time.Time, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, err
	}
	tk := base64.RawURLEncoding.EncodeToString(b[:])
	exp := now.Add(TicketTTL)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.issued == nil {
		t.issued = map[string]ticket{}
	}
	total, per := t.total, t.perScope
	if total == 0 {
		total, per = maxTickets, maxTickets
	}
	if len(t.issued) >= total {
		t.purge(now)
	}
	// A scope at its share (or, were the shares larger than the pool, at
	// a full pool) is hoarding: its own oldest ticket goes.
	key := scope.Key()
	for t.held(key) >= per || len(t.issued) >= total {
		if !t.dropOldest(key) {
			break
		}
	}
	t.issued[tk] = ticket{exp, scope, key}
	return tk, exp, nil
}

// held counts the unused tickets of scope key; t.mu is held.
func (t *tickets) held(key string) int {
	n := 0
	for _, e := range t.issued {
		if e.key == key {
			n++
		}
	}
	return n
}

// dropOldest drops the unused ticket of scope key that expires first,
// and says whether there was one; t.mu is held.
func (t *tickets) dropOldest(key string) bool {
	old, at := "", time.Time{}
	for k, e := range t.issued {
		if e.key == key && (old == "" || e.expires.Before(at)) {
			old, at = k, e.expires
		}
	}
	if old == "" {
		return false
	}
	delete(t.issued, old)
	return true
}

// purge drops expired tickets; t.mu is held.
func (t *tickets) purge(now time.Time) {
	for k, e := range t.issued {
		if !now.Before(e.expires) {
			delete(t.issued, k)
		}
	}
}

// redeem uses up tk and returns its scope: ok if it was issued, unused
// and not expired.
func (t *tickets) redeem(tk string, now time.Time) (twin.Scope, bool) {
	if tk == "" {
		return twin.Scope{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.issued[tk]
	if !ok {
		return twin.Scope{}, false
	}
	delete(t.issued, tk)
	return e.scope, now.Before(e.expires)
}

// handleTicket answers POST /api/v1/stream/ticket.
func (a *API) handleTicket(w http.ResponseWriter, r *http.Request) {
	tk, exp, err := a.tickets.issue(a.cfg.Now(), scopeOf(r))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", "make a ticket: "+err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, "application/json", ticketAnswer{Ticket: tk, Expires: exp.UTC()})
}

// streamAuth wraps the stream: a request carrying a ticket query
// parameter is let in when the ticket is good (and the ticket is used
// up); any other goes through the operator check (Authorization header).
// A bad ticket counts as a failed authentication.
func (a *API) streamAuth(h http.HandlerFunc) http.Handler {
	op := a.operator(h)
	ticketed := a.instrument("operator", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tk := r.URL.Query().Get("ticket")
		attempt, ok, wait := a.guard.Begin(a.clientIP(r), r.RemoteAddr)
		if !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			writeError(w, http.StatusTooManyRequests, "ticket", "too many failed authentications from this address; retry later")
			return
		}
		scope, ok := a.tickets.redeem(tk, a.cfg.Now())
		if !ok {
			attempt.Failed(AuthBad)
			a.cfg.Logger.Warn("stream: unknown, used or expired ticket", "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="ponte"`)
			writeError(w, http.StatusUnauthorized, "ticket", "the stream ticket is unknown, used or expired: POST /api/v1/stream/ticket for a new one")
			return
		}
		attempt.Succeeded()
		h(w, withScope(r, scope))
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("ticket") {
			ticketed.ServeHTTP(w, r)
			return
		}
		op.ServeHTTP(w, r)
	})
}
