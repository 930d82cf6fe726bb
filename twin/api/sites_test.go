package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/geo"
	"github.com/ponte-city/ponte/twin"
)

// sitesAnswer is the body of GET /api/v1/sites.geojson as a client reads it.
type sitesAnswer struct {
	Type     string  `json:"type"`
	Licence  Licence `json:"licence"`
	Features []struct {
		Type     string `json:"type"`
		ID       string `json:"id"`
		Geometry struct {
			Type        string    `json:"type"`
			Coordinates []float64 `json:"coordinates"`
		} `json:"geometry"`
		Properties map[string]any `json:"properties"`
	} `json:"features"`
}

func decodeSites(t *testing.T, body []byte) sitesAnswer {
	t.Helper()
	var fc sitesAnswer
	if err := json.Unmarshal(body, &fc); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return fc
}

// TestSitesGeoJSON: the public sites endpoint lists the sites (not the
// areas, roads or gateways) as points with their type, name, area,
// category and freshness, with the licence, and nothing an operator's
// token guards: no values, no gateway or device names.
func TestSitesGeoJSON(t *testing.T) {
	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), func(c *Config) {
		c.Public.Licence = Licence{Name: "IODL 2.0", URL: "https://www.dati.gov.it/iodl/2.0/", Attribution: "Comune di Firenze"}
	})
	resp, body := get(t, srv.URL+"/api/v1/sites.geojson", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for k, v := range map[string]string{"Content-Type": "application/geo+json", "Access-Control-Allow-Origin": "*", "Cache-Control": publicCache} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if l := resp.Header.Get("Link"); !strings.Contains(l, "https://www.dati.gov.it/iodl/2.0/") {
		t.Errorf("Link %q: want the licence", l)
	}
	fc := decodeSites(t, body)
	if fc.Type != "FeatureCollection" || fc.Licence.Name != "IODL 2.0" || fc.Licence.Attribution != "Comune di Firenze" {
		t.Errorf("collection %q, licence %+v", fc.Type, fc.Licence)
	}
	want := map[string]string{
		siteBA.ID:      "AirQualityObserved|Ba air 1|072006|air|offline|16.87,41.12",
		siteAir.ID:     "AirQualityObserved|Fi air 1|048017|air|fresh|11.25,43.77",
		siteTraffic.ID: "TrafficFlowObserved|Fi traffic 2|048017|traffic|stale|11.26,43.78",
	}
	if len(fc.Features) != len(want) {
		t.Errorf("%d features, want the %d sites: %s", len(fc.Features), len(want), body)
	}
	for _, f := range fc.Features {
		p := f.Properties
		got := strings.Join([]string{p["type"].(string), p["name"].(string), p["area"].(string), p["category"].(string), p["freshness"].(string)}, "|")
		if f.Geometry.Type != "Point" || len(f.Geometry.Coordinates) != 2 {
			t.Errorf("%s: geometry %+v", f.ID, f.Geometry)
		} else {
			got += fmt.Sprintf("|%g,%g", f.Geometry.Coordinates[0], f.Geometry.Coordinates[1])
		}
		if want[f.ID] != got {
			t.Errorf("%s: %s, want %s", f.ID, got, want[f.ID])
		}
		if len(p) != 5 {
			t.Errorf("%s: properties %v, want type, name, area, category, freshness only", f.ID, p)
		}
	}
	for _, secret := range []string{"gw-fi", "gw-ba", "aq1", "tc1", "no2", "41.5", "intensity", "road-viali"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("the public sites carry %q: %s", secret, body)
		}
	}
	resp, _ = get(t, srv.URL+"/api/v1/sites.geojson", "", map[string]string{"If-None-Match": resp.Header.Get("ETag")})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	resp, _ = do(t, http.MethodOptions, srv.URL+"/api/v1/sites.geojson", "", map[string]string{"Origin": "https://example.org", "Access-Control-Request-Method": "GET"})
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestSitesCached: the body is rendered once per sitesMaxAge however
// many clients ask, and again after it, so a site's new freshness shows.
func TestSitesCached(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	var mu sync.Mutex
	now := t0
	srv, _ := newTestServer(t, fake, func(c *Config) {
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	freshness := func() string {
		_, body := get(t, srv.URL+"/api/v1/sites.geojson", "", nil)
		for _, f := range decodeSites(t, body).Features {
			if f.ID == siteTraffic.ID {
				return f.Properties["freshness"].(string)
			}
		}
		t.Fatalf("no %s in %s", siteTraffic.ID, body)
		return ""
	}
	if got := freshness(); got != "stale" {
		t.Fatalf("freshness %s, want stale", got)
	}
	fresh := siteTraffic
	fresh.Freshness = twin.Fresh
	fake.emit(fresh)
	if got := freshness(); got != "stale" {
		t.Errorf("within %s: freshness %s, want the cached stale", sitesMaxAge, got)
	}
	mu.Lock()
	now = now.Add(sitesMaxAge)
	mu.Unlock()
	if got := freshness(); got != "fresh" {
		t.Errorf("after %s: freshness %s, want fresh", sitesMaxAge, got)
	}
}

// TestTenantSites: under /t/{tenant}/ the sites are the tenant's only,
// with the tenant's licence; the route is rate-limited as every public
// one.
func TestTenantSites(t *testing.T) {
	fi, err := geo.LoadLayer("../../geo/data/firenze-metro-municipalities.geojson", geo.KindAreas, geo.LoadOptions{IDProperty: "com_istat_code"})
	if err != nil {
		t.Fatal(err)
	}
	ba, err := geo.LoadLayer("../../geo/data/bari-metro-municipalities.geojson", geo.KindAreas, geo.LoadOptions{IDProperty: "com_istat_code"})
	if err != nil {
		t.Fatal(err)
	}
	fi.Features = append(fi.Features, ba.Features...)
	tw, err := twin.New(twin.Config{Areas: fi, Logger: slog.New(slog.DiscardHandler),
		Tenants: []twin.Tenant{{ID: "bari", Name: "Comune di Bari", Areas: []string{"072006"}, Gateways: []string{"gw-ba"}}},
		Sites: []twin.Site{
			{Gateway: "gw-fi", Device: "tc1", Category: "traffic", Lon: 11.2558, Lat: 43.7731, Interval: time.Minute},
			{Gateway: "gw-ba", Device: "aq1", Category: "air", Lon: 16.8716, Lat: 41.1177, Interval: time.Minute},
		}})
	if err != nil {
		t.Fatal(err)
	}
	scope, err := tw.Scope("bari")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Reader: tw, Tokens: []string{testToken}, Registerer: prometheus.NewRegistry(), PublicRate: 0.001, PublicBurst: 3,
		Tenants: []Tenant{{ID: "bari", Name: "Comune di Bari", Tokens: []string{"bari-operator-token-01"}, Scope: scope,
			Licence: Licence{Name: "IODL 2.0", URL: "https://www.dati.gov.it/iodl/2.0/", Attribution: "Comune di Bari"}}}})
	if err != nil {
		t.Fatal(err)
	}
	th, err := a.TenantHandler(http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", a.Handler())
	mux.Handle("/t/", th)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	_, body := get(t, srv.URL+"/api/v1/sites.geojson", "", nil)
	all := decodeSites(t, body)
	if len(all.Features) != 2 {
		t.Fatalf("the platform's sites: %s", body)
	}
	resp, body := get(t, srv.URL+"/t/bari/api/v1/sites.geojson", "", nil)
	bari := decodeSites(t, body)
	if resp.StatusCode != http.StatusOK || len(bari.Features) != 1 || bari.Features[0].Properties["area"] != "072006" || bari.Licence.Name != "IODL 2.0" {
		t.Errorf("Bari's sites: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "gw-fi") || strings.Contains(string(body), "048017") {
		t.Errorf("Bari's sites name Firenze: %s", body)
	}
	// The burst (3) is spent after two more: the public limit answers 429.
	for range 2 {
		get(t, srv.URL+"/t/bari/api/v1/sites.geojson", "", nil)
	}
	resp, _ = get(t, srv.URL+"/t/bari/api/v1/sites.geojson", "", nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("past the burst: %d, want 429 with Retry-After", resp.StatusCode)
	}
}
