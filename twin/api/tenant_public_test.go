package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/twin"
)

// TestTenantPublicBudget: the platform's public API and every tenant's
// share one request budget per client; a tenant's prefix serves only the
// public routes and an unknown tenant is 404.
func TestTenantPublicBudget(t *testing.T) {
	a, err := New(Config{Reader: newFakeReader(), Tokens: []string{testToken}, PublicBurst: 2, PublicRate: 0.001,
		Tenants:    []Tenant{{ID: "bari", Name: "Comune di Bari", Tokens: []string{"bari-operator-token-01"}, Scope: twin.AllScope()}},
		Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/indicators/" {
			http.NotFound(w, r)
		}
	})
	th, err := a.TenantHandler(pages)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", a.Handler())
	mux.Handle("/t/", th)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for i, c := range []struct {
		path string
		want int
	}{
		{"/t/bari/api/v1/config", http.StatusOK},
		{"/t/bari/api/v1/config", http.StatusOK},
		{"/api/v1/config", http.StatusTooManyRequests}, // the budget of 2 is spent
		{"/t/roma/api/v1/config", http.StatusNotFound},
		{"/t/bari/api/v1/entities", http.StatusNotFound},
		{"/t/bari/indicators/", http.StatusOK},
		{"/t/bari/", http.StatusOK}, // redirected to /t/bari/indicators/
		{"/t/bari/map/", http.StatusNotFound},
	} {
		if resp, body := get(t, srv.URL+c.path, "", nil); resp.StatusCode != c.want {
			t.Errorf("%d %s: %d %s, want %d", i, c.path, resp.StatusCode, body, c.want)
		}
	}
}
