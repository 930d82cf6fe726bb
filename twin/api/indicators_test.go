package api

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/twin"
)

func TestIndicatorsJSON(t *testing.T) {
	fake := newFakeReader()
	ind := fixtureIndicators()
	nan := 0.0
	nan /= nan
	ind.Areas[1].Indicators = append(ind.Areas[1].Indicators, twin.Indicator{Name: "broken", Value: &nan, Window: "1h"})
	fake.setIndicators(ind)
	srv, _ := newTestServer(t, fake, nil)
	resp, body := get(t, srv.URL+"/api/v1/indicators", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for k, v := range map[string]string{"Content-Type": "application/json", "Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=10"} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	var got twin.Indicators
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if !got.Generated.Equal(t0) || len(got.City) != 2 || len(got.Areas) != 2 {
		t.Fatalf("indicators %s", body)
	}
	if c := got.City[0]; c.Name != "traffic_intensity" || c.Value == nil || *c.Value != 120 || c.Unit != "1/h" || c.Sensors != 1 || c.Window != "15m" || c.Definition != "" {
		t.Errorf("city[0] %+v, want its definition given once, apart", c)
	}
	if got.City[1].Value != nil {
		t.Errorf("city[1] value %v, want null", *got.City[1].Value)
	}
	if b := got.Areas[1].Indicators[1]; b.Name != "broken" || b.Value != nil {
		t.Errorf("NaN indicator %+v, want null value", b)
	}
	if !strings.Contains(string(body), `"value":null`) {
		t.Errorf("no null value in %s", body)
	}
}

func TestIndicatorsEmptyIsArrays(t *testing.T) {
	srv, _ := newTestServer(t, newFakeReader(), nil)
	_, body := get(t, srv.URL+"/api/v1/indicators", "", nil)
	if !strings.Contains(string(body), `"city":[]`) || !strings.Contains(string(body), `"areas":[]`) {
		t.Errorf("empty indicators %s, want [] not null", body)
	}
}

func TestIndicatorsCSV(t *testing.T) {
	fake := newFakeReader()
	fake.setIndicators(fixtureIndicators())
	srv, _ := newTestServer(t, fake, nil)
	resp, body := get(t, srv.URL+"/api/v1/indicators.csv", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("ETag") == "" || resp.Header.Get("Cache-Control") != "public, max-age=10" {
		t.Errorf("headers %v", resp.Header)
	}
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatalf("parse CSV %s: %v", body, err)
	}
	ts := t0.Format(time.RFC3339)
	want := [][]string{
		{"scope", "area_id", "area_name", "indicator", "value", "unit", "sensors", "window", "updated_at"},
		{"city", "", "", "traffic_intensity", "120", "1/h", "1", "15m", ts},
		{"city", "", "", "noise_mean", "", "dB(A)", "0", "15m", ""},
		{"area", "048017", "Firenze", "traffic_intensity", "120", "1/h", "1", "15m", ts},
		{"area", "048017", "Firenze", "congestion_share", "0.5", "1", "2", "15m", ts},
		{"area", "072006", "'=Bari", "air_band_worst", "", "", "0", "1h", ""},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("CSV rows\n%v\nwant\n%v", rows, want)
	}
}

func TestETag(t *testing.T) {
	fake := newFakeReader()
	fake.setIndicators(fixtureIndicators())
	srv, _ := newTestServer(t, fake, nil)
	for _, path := range []string{"/api/v1/indicators", "/api/v1/indicators.csv"} {
		t.Run(path, func(t *testing.T) {
			r1, _ := get(t, srv.URL+path, "", nil)
			etag := r1.Header.Get("ETag")
			if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 10 {
				t.Fatalf("ETag %q", etag)
			}
			cases := []struct {
				name   string
				inm    string
				status int
			}{
				{"same", etag, http.StatusNotModified},
				{"weak", "W/" + etag, http.StatusNotModified},
				{"in list", `"x", ` + etag, http.StatusNotModified},
				{"star", "*", http.StatusNotModified},
				{"other", `"other"`, http.StatusOK},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r, body := get(t, srv.URL+path, "", map[string]string{"If-None-Match": c.inm})
					if r.StatusCode != c.status {
						t.Fatalf("status %d, want %d", r.StatusCode, c.status)
					}
					if c.status == http.StatusNotModified && len(body) != 0 {
						t.Errorf("304 with body %q", body)
					}
					if r.Header.Get("ETag") != etag || r.Header.Get("Cache-Control") != "public, max-age=10" {
						t.Errorf("headers %v", r.Header)
					}
				})
			}
			// A change of the indicators changes the ETag.
			ind := fixtureIndicators()
			ind.City[0].Value = ptr(121)
			fake.setIndicators(ind)
			r2, _ := get(t, srv.URL+path, "", map[string]string{"If-None-Match": etag})
			if r2.StatusCode != http.StatusOK || r2.Header.Get("ETag") == etag {
				t.Errorf("after a change: status %d, ETag %q (old %q)", r2.StatusCode, r2.Header.Get("ETag"), etag)
			}
			fake.setIndicators(fixtureIndicators())
		})
	}
}

func TestPreflight(t *testing.T) {
	srv, _ := newTestServer(t, newFakeReader(), nil)
	for _, path := range []string{"/api/v1/indicators", "/api/v1/indicators.csv"} {
		resp, _ := do(t, http.MethodOptions, srv.URL+path, "", map[string]string{
			"Origin": "https://dashboard.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "if-none-match"})
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		h := resp.Header
		if h.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "GET") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "If-None-Match") || h.Get("Access-Control-Max-Age") == "" {
			t.Errorf("%s: preflight headers %v", path, h)
		}
	}
	// Operator endpoints are not open to other origins.
	resp, _ := get(t, srv.URL+"/api/v1/entities", testToken, map[string]string{"Origin": "https://evil.example"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("operator endpoint has CORS %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestRateLimit(t *testing.T) {
	clock := &fakeClock{now: t0}
	srv, a := newTestServer(t, newFakeReader(), func(c *Config) {
		c.PublicRate = 0.5
		c.PublicBurst = 3
		c.MaxClients = 2
		c.Now = clock.Now
	})
	url := srv.URL + "/api/v1/indicators"
	for i := range 3 {
		if r, body := get(t, url, "", nil); r.StatusCode != http.StatusOK {
			t.Fatalf("request %d within the burst: status %d: %s", i, r.StatusCode, body)
		}
	}
	r, body := get(t, url+".csv", "", nil)
	wantError(t, r, body, http.StatusTooManyRequests, "", "too many requests")
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra != 2 {
		t.Errorf("Retry-After %q, want 2 (one token at 0.5/s)", r.Header.Get("Retry-After"))
	}
	if r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("429 without CORS: a dashboard could not read it")
	}
	// Operator endpoints are not limited.
	if r, _ := get(t, srv.URL+"/api/v1/entities", testToken, nil); r.StatusCode != http.StatusOK {
		t.Errorf("operator endpoint limited: %d", r.StatusCode)
	}
	clock.add(2 * time.Second)
	if r, body := get(t, url, "", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("after refill: status %d: %s", r.StatusCode, body)
	}
	if r, _ := get(t, url, "", nil); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second after refill: status %d, want 429", r.StatusCode)
	}

	t.Run("lru bound", func(t *testing.T) {
		for i := range 10 {
			a.limiter.allow(fmt.Sprintf("10.0.0.%d", i), clock.Now())
		}
		if n := a.limiter.len(); n != 2 {
			t.Errorf("%d buckets, want MaxClients 2", n)
		}
	})
}
