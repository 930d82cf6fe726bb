package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/twin"
)

// newTicket asks for a stream ticket with tok.
func newTicket(t *testing.T, base, tok string) (*http.Response, ticketAnswer) {
	t.Helper()
	resp, body := do(t, http.MethodPost, base+"/api/v1/stream/ticket", tok, nil)
	var ans ticketAnswer
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &ans); err != nil {
			t.Fatalf("ticket answer %s: %v", body, err)
		}
	}
	return resp, ans
}

// TestStreamTicket: the stream opens with a ticket instead of a token in
// its URL; the ticket serves once, expires, and strangers get none.
func TestStreamTicket(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	fake := newFakeReader(fixtureEntities()...)
	srv, _ := newTestServer(t, fake, func(c *Config) { c.Now = clock })
	streamURL := func(tk string) string { return srv.URL + "/api/v1/stream?ticket=" + url.QueryEscape(tk) }

	t.Run("stranger refused", func(t *testing.T) {
		for _, tok := range []string{"", "nope"} {
			resp, _ := newTicket(t, srv.URL, tok)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("ticket with token %q: status %d, want 401", tok, resp.StatusCode)
			}
		}
		resp, _ := do(t, http.MethodPost, srv.URL+"/api/v1/stream/ticket?token="+testToken, "", nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("ticket with the token in the URL: status %d, want 401", resp.StatusCode)
		}
	})

	t.Run("single use", func(t *testing.T) {
		resp, tk := newTicket(t, srv.URL, testToken)
		if resp.StatusCode != http.StatusOK || len(tk.Ticket) < 20 {
			t.Fatalf("status %d ticket %+v", resp.StatusCode, tk)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
		}
		if want := clock().Add(TicketTTL); !tk.Expires.Equal(want) {
			t.Errorf("expires %v, want %v", tk.Expires, want)
		}
		if strings.Contains(tk.Ticket, testToken) {
			t.Fatal("the ticket carries the token")
		}
		c := openStream(t, streamURL(tk.Ticket), nil)
		if ev := c.next(t, isEvent("indicators")); ev.Event != "indicators" {
			t.Fatalf("first event %+v", ev)
		}
		c.close()
		resp, body := get(t, streamURL(tk.Ticket), "", nil)
		wantError(t, resp, body, http.StatusUnauthorized, "ticket", "unknown, used or expired")
	})

	t.Run("expiry", func(t *testing.T) {
		_, tk := newTicket(t, srv.URL, testToken)
		advance(TicketTTL)
		resp, body := get(t, streamURL(tk.Ticket), "", nil)
		wantError(t, resp, body, http.StatusUnauthorized, "ticket", "unknown, used or expired")
	})

	t.Run("made-up ticket", func(t *testing.T) {
		resp, body := get(t, streamURL("AAAAAAAAAAAAAAAAAAAAAA"), "", nil)
		wantError(t, resp, body, http.StatusUnauthorized, "ticket", "POST /api/v1/stream/ticket")
	})

	t.Run("a ticket opens nothing else", func(t *testing.T) {
		_, tk := newTicket(t, srv.URL, testToken)
		resp, _ := get(t, srv.URL+"/api/v1/entities?ticket="+url.QueryEscape(tk.Ticket), "", nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("entities with a ticket: status %d, want 401", resp.StatusCode)
		}
	})
}

func TestTicketsBounded(t *testing.T) {
	var ts tickets
	now := time.Unix(0, 0)
	for range maxTickets + 10 {
		if _, _, err := ts.issue(now, twin.AllScope()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(ts.issued); n > maxTickets {
		t.Errorf("%d tickets held, want at most %d", n, maxTickets)
	}
}
