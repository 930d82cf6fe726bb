package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testFeature decodes a Feature as a client would.
type testFeature struct {
	Type     string `json:"type"`
	ID       string `json:"id"`
	Geometry *struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	} `json:"geometry"`
	Properties map[string]any `json:"properties"`
}

type testCollection struct {
	Type     string        `json:"type"`
	Features []testFeature `json:"features"`
}

func TestEntitiesFilter(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	fake.setIndicators(fixtureIndicators())
	srv, _ := newTestServer(t, fake, nil)
	cases := []struct {
		name  string
		query string
		want  []string
	}{
		{"all", "", []string{"048017", "072006", "gw-ba", "road-viali", "urn:ngsi-ld:AirQualityObserved:ba-1", "urn:ngsi-ld:AirQualityObserved:fi-1", "urn:ngsi-ld:TrafficFlowObserved:fi-2"}},
		{"bbox florence", "bbox=11.2,43.75,11.3,43.8", []string{"048017", "road-viali", "urn:ngsi-ld:AirQualityObserved:fi-1", "urn:ngsi-ld:TrafficFlowObserved:fi-2"}},
		{"bbox bari centre", "bbox=16.8,41.1,16.9,41.13", []string{"072006", "gw-ba", "urn:ngsi-ld:AirQualityObserved:ba-1"}},
		{"type fiware", "type=AirQualityObserved", []string{"urn:ngsi-ld:AirQualityObserved:ba-1", "urn:ngsi-ld:AirQualityObserved:fi-1"}},
		{"type kind", "type=site", []string{"urn:ngsi-ld:AirQualityObserved:ba-1", "urn:ngsi-ld:AirQualityObserved:fi-1", "urn:ngsi-ld:TrafficFlowObserved:fi-2"}},
		{"two types", "type=area,road", []string{"048017", "072006", "road-viali"}},
		{"bbox and type", "bbox=11.2,43.75,11.3,43.8&type=AirQualityObserved", []string{"urn:ngsi-ld:AirQualityObserved:fi-1"}},
		{"empty sea", "bbox=0,0,1,1", nil},
		{"unknown type", "type=Nope", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := get(t, srv.URL+"/api/v1/entities?"+c.query, testToken, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/geo+json" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("Content-Type %q, headers %v", ct, resp.Header)
			}
			var fc testCollection
			if err := json.Unmarshal(body, &fc); err != nil {
				t.Fatalf("decode %s: %v", body, err)
			}
			if fc.Type != "FeatureCollection" || fc.Features == nil {
				t.Fatalf("not a FeatureCollection with features: %s", body)
			}
			var ids []string
			for _, f := range fc.Features {
				ids = append(ids, f.ID)
			}
			if !slices.Equal(ids, c.want) {
				t.Errorf("%d features %v, want %d %v", len(ids), ids, len(c.want), c.want)
			}
		})
	}
}

func TestEntityFeatureShape(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	fake.setIndicators(fixtureIndicators())
	srv, _ := newTestServer(t, fake, nil)

	t.Run("site", func(t *testing.T) {
		resp, body := get(t, srv.URL+"/api/v1/entities/"+url.PathEscape(siteAir.ID), testToken, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var f testFeature
		if err := json.Unmarshal(body, &f); err != nil {
			t.Fatal(err)
		}
		if f.Type != "Feature" || f.ID != siteAir.ID || f.Geometry == nil || f.Geometry.Type != "Point" || string(f.Geometry.Coordinates) != "[11.25,43.77]" {
			t.Errorf("feature %s", body)
		}
		p := f.Properties
		want := map[string]any{"type": "AirQualityObserved", "kind": "site", "name": "Fi air 1", "area": "048017", "road": "road-viali",
			"gateway": "gw-fi", "device": "aq1", "freshness": "fresh", "updated": t0.Format(time.RFC3339)}
		for k, v := range want {
			if p[k] != v {
				t.Errorf("properties.%s = %v, want %v", k, p[k], v)
			}
		}
		no2 := p["attrs"].(map[string]any)["no2"].(map[string]any)
		if no2["value"] != 41.5 || no2["unit"] != "ug/m3" || no2["observedAt"] != t0.Format(time.RFC3339) {
			t.Errorf("attrs.no2 = %v", no2)
		}
		if _, ok := p["indicators"]; ok {
			t.Errorf("a site has indicators: %s", body)
		}
	})
	t.Run("area with indicators", func(t *testing.T) {
		resp, body := get(t, srv.URL+"/api/v1/entities/048017", testToken, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var f testFeature
		if err := json.Unmarshal(body, &f); err != nil {
			t.Fatal(err)
		}
		ind := f.Properties["indicators"].(map[string]any)
		if ind["traffic_intensity"] != 120.0 || ind["congestion_share"] != 0.5 || len(ind) != 2 {
			t.Errorf("indicators %v", ind)
		}
		if f.Geometry.Type != "Polygon" {
			t.Errorf("geometry %s", body)
		}
	})
	t.Run("never updated", func(t *testing.T) {
		_, body := get(t, srv.URL+"/api/v1/entities/road-viali", testToken, nil)
		var f testFeature
		if err := json.Unmarshal(body, &f); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.Properties["updated"]; ok {
			t.Errorf("updated present for an entity never updated: %s", body)
		}
		if f.Properties["freshness"] != "unknown" || f.Geometry.Type != "LineString" {
			t.Errorf("road %s", body)
		}
	})
	t.Run("404", func(t *testing.T) {
		resp, body := get(t, srv.URL+"/api/v1/entities/nope", testToken, nil)
		wantError(t, resp, body, http.StatusNotFound, "id", `no entity "nope"`)
	})
}

func TestAuth(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	srv, _ := newTestServer(t, fake, nil)
	cases := []struct {
		name   string
		path   string
		header string
		status int
	}{
		{"no token", "/api/v1/entities", "", http.StatusUnauthorized},
		{"wrong token", "/api/v1/entities", "Bearer nope", http.StatusUnauthorized},
		{"prefix of token", "/api/v1/entities", "Bearer " + testToken[:5], http.StatusUnauthorized},
		{"basic scheme", "/api/v1/entities", "Basic " + testToken, http.StatusUnauthorized},
		{"right token", "/api/v1/entities", "Bearer " + testToken, http.StatusOK},
		{"second token", "/api/v1/entities", "bearer other-token", http.StatusOK},
		// A token in the URL lands in access logs: refused even when right.
		{"query token refused", "/api/v1/entities?token=" + testToken, "", http.StatusUnauthorized},
		{"stream query token refused", "/api/v1/stream?token=" + testToken, "", http.StatusUnauthorized},
		{"wrong query token", "/api/v1/entities?token=x", "", http.StatusUnauthorized},
		{"entity no token", "/api/v1/entities/048017", "", http.StatusUnauthorized},
		{"history no token", "/api/v1/history?entity=x&point=y", "", http.StatusUnauthorized},
		{"gateways no token", "/api/v1/gateways", "", http.StatusUnauthorized},
		{"gateways wrong token", "/api/v1/gateways", "Bearer nope", http.StatusUnauthorized},
		{"gateways wrong query token", "/api/v1/gateways?token=nope", "", http.StatusUnauthorized},
		{"gateways right token", "/api/v1/gateways", "Bearer " + testToken, http.StatusOK},
		{"stream no token", "/api/v1/stream", "", http.StatusUnauthorized},
		{"stream wrong query token", "/api/v1/stream?token=nope", "", http.StatusUnauthorized},
		{"public indicators", "/api/v1/indicators", "", http.StatusOK},
		{"openapi", "/api/v1/openapi.json", "", http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := get(t, srv.URL+c.path, "", map[string]string{"Authorization": c.header})
			if c.status == http.StatusUnauthorized {
				wantError(t, resp, body, c.status, "Authorization", "operator token")
				if resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate")
				}
				return
			}
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
		})
	}
}

func TestUnknownEndpoint(t *testing.T) {
	srv, _ := newTestServer(t, newFakeReader(), nil)
	resp, body := get(t, srv.URL+"/api/v1/nothing", testToken, nil)
	wantError(t, resp, body, http.StatusNotFound, "", "no such endpoint")
	resp, body = do(t, http.MethodPost, srv.URL+"/api/v1/entities", testToken, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST entities: status %d: %s", resp.StatusCode, body)
	}
}

// TestEntitiesLastEventID: the snapshot says which change it follows, so a
// stream opened from there misses nothing that changed while it loaded.
func TestEntitiesLastEventID(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	srv, _ := newTestServer(t, fake, nil)
	fake.emit(withName(siteAir, "before"))
	resp, _ := get(t, srv.URL+"/api/v1/entities", testToken, nil)
	id := resp.Header.Get("X-Last-Event-ID")
	if id != strconv.FormatUint(fake.LastSeq(), 10) {
		t.Fatalf("X-Last-Event-ID %q, want %d", id, fake.LastSeq())
	}
	fake.emit(withName(siteAir, "while the map was loading"))
	c := openStream(t, srv.URL+"/api/v1/stream?lastEventId="+id, nil)
	if ev := c.next(t, isEvent("entity")); !strings.Contains(ev.Data, "while the map was loading") {
		t.Fatalf("first event %+v, want the change made after the snapshot", ev)
	}
}
