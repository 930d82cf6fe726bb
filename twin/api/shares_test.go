package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin"
)

// sharedAPI serves an API over a twin with tenants bari and firenze
// (tokens "bari-operator-token-01", "firenze-operator-token-01") and the
// platform's testToken.
func sharedAPI(t *testing.T, mod func(*Config)) (*httptest.Server, *API) {
	t.Helper()
	tw, err := twin.New(twin.Config{Logger: slog.New(slog.DiscardHandler),
		Tenants: []twin.Tenant{{ID: "bari", Name: "Comune di Bari", Gateways: []string{"gw-ba"}},
			{ID: "firenze", Name: "Comune di Firenze", Gateways: []string{"gw-fi"}}},
		Sites: []twin.Site{
			{Gateway: "gw-fi", Device: "tc1", Category: "traffic", Lon: 11.2558, Lat: 43.7731, Interval: time.Minute},
			{Gateway: "gw-ba", Device: "aq1", Category: "air", Lon: 16.8716, Lat: 41.1177, Interval: time.Minute},
		}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Reader: tw, Tokens: []string{testToken}, Registerer: prometheus.NewRegistry()}
	for _, id := range []string{"bari", "firenze"} {
		scope, err := tw.Scope(id)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Tenants = append(cfg.Tenants, Tenant{ID: id, Name: id, Tokens: []string{id + "-operator-token-01"}, Scope: scope})
	}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv, a
}

// TestStreamShareOfATenant: a tenant at its share of streams gets 429
// naming the limit and the tenant; another tenant and the platform still
// open theirs, and the tenant again once one of its streams closes.
func TestStreamShareOfATenant(t *testing.T) {
	srv, a := sharedAPI(t, func(c *Config) { c.MaxStreamsPerScope = 2 })
	bari := map[string]string{"Authorization": "Bearer bari-operator-token-01"}
	openStream(t, srv.URL+"/api/v1/stream", bari)
	b2 := openStream(t, srv.URL+"/api/v1/stream", bari)
	resp, body := get(t, srv.URL+"/api/v1/stream", "bari-operator-token-01", nil)
	wantError(t, resp, body, http.StatusTooManyRequests, "", "tenant bari hold 2 streams, their limit (MaxStreamsPerScope)")
	openStream(t, srv.URL+"/api/v1/stream", map[string]string{"Authorization": "Bearer firenze-operator-token-01"})
	openStream(t, srv.URL+"/api/v1/stream", nil)
	b2.close()
	testenv.Eventually(t, 10*time.Second, "bari's closed stream released", func() bool { return a.streams.Load() == 3 })
	openStream(t, srv.URL+"/api/v1/stream", bari)
}

// TestStreamShareDefault: MaxStreams/(tenants+1), at least 50.
func TestStreamShareDefault(t *testing.T) {
	for _, tc := range []struct{ max, tenants, want int }{{5000, 0, 5000}, {5000, 41, 119}, {5000, 200, 50}, {20, 3, 20}} {
		if got := streamsPerScope(tc.max, tc.tenants); got != tc.want {
			t.Errorf("streamsPerScope(%d, %d) = %d, want %d", tc.max, tc.tenants, got, tc.want)
		}
	}
	_, a := sharedAPI(t, nil)
	if a.cfg.MaxStreamsPerScope != DefaultMaxStreams/3 {
		t.Errorf("two tenants: MaxStreamsPerScope %d, want %d", a.cfg.MaxStreamsPerScope, DefaultMaxStreams/3)
	}
}

// TestTicketsOfAHoarderNeverEvictOthers: a scope that asks for tickets
// without end loses its own oldest; another scope's stay good.
func TestTicketsOfAHoarderNeverEvictOthers(t *testing.T) {
	_, a := sharedAPI(t, nil)
	bari, _ := a.reader.(*twin.Twin).Scope("bari")
	firenze, _ := a.reader.(*twin.Twin).Scope("firenze")
	now := time.Unix(1e9, 0)
	fiTicket, _, _ := a.tickets.issue(now, firenze)
	platTicket, _, _ := a.tickets.issue(now, twin.AllScope())
	first, _, _ := a.tickets.issue(now, bari)
	for i := range a.tickets.total + 10 {
		if _, _, err := a.tickets.issue(now.Add(time.Duration(i)*time.Millisecond), bari); err != nil {
			t.Fatal(err)
		}
	}
	a.tickets.mu.Lock()
	held, n := a.tickets.held(bari.Key()), len(a.tickets.issued)
	a.tickets.mu.Unlock()
	if held != a.tickets.perScope || n > a.tickets.total {
		t.Errorf("bari holds %d tickets (share %d), %d in all (pool %d)", held, a.tickets.perScope, n, a.tickets.total)
	}
	if _, ok := a.tickets.redeem(first, now); ok {
		t.Error("bari's oldest ticket is still good past its share")
	}
	if s, ok := a.tickets.redeem(fiTicket, now); !ok || s.Key() != firenze.Key() {
		t.Error("firenze's ticket was evicted by bari's")
	}
	if _, ok := a.tickets.redeem(platTicket, now); !ok {
		t.Error("the platform's ticket was evicted by bari's")
	}
}
