package api

import (
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestBadParameters(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	srv, _ := newTestServer(t, fake, func(c *Config) { c.History = &fakeHistory{} })
	cases := []struct {
		name, path, param, contains string
	}{
		{"bbox 3 numbers", "/api/v1/entities?bbox=1,2,3", "bbox", "3 numbers, want 4"},
		{"bbox 5 numbers", "/api/v1/entities?bbox=1,2,3,4,5", "bbox", "5 numbers, want 4"},
		{"bbox empty", "/api/v1/entities?bbox=", "bbox", "1 numbers, want 4"},
		{"bbox lat out of range", "/api/v1/entities?bbox=11,43,12,95", "bbox", "maxLat 95 is out of range [-90, 90]"},
		{"bbox lon out of range", "/api/v1/entities?bbox=-181,43,12,44", "bbox", "minLon -181 is out of range [-180, 180]"},
		{"bbox not a number", "/api/v1/entities?bbox=a,43,12,44", "bbox", `minLon "a" is not a finite number`},
		{"bbox NaN", "/api/v1/entities?bbox=NaN,43,12,44", "bbox", "is not a finite number"},
		{"bbox inverted lat", "/api/v1/entities?bbox=11,44,12,43", "bbox", "minLat 44 > maxLat 43"},
		{"bbox inverted lon", "/api/v1/entities?bbox=12,43,11,44", "bbox", "minLon 12 > maxLon 11"},
		{"type empty item", "/api/v1/entities?type=site,,road", "type", "is empty"},
		{"type bad char", "/api/v1/entities?type=" + url.QueryEscape("a'b"), "type", `has the character '\''`},
		{"stream bbox", "/api/v1/stream?bbox=1,2,3", "bbox", "want 4"},
		{"stream last id", "/api/v1/stream?lastEventId=abc", "lastEventId", "is not an event ID"},
		{"history every 0", "/api/v1/history?entity=" + url.QueryEscape(siteAir.ID) + "&point=no2&every=0", "every", "at least 1s"},
		{"history every negative", "/api/v1/history?entity=x&point=no2&every=-5m", "every", "at least 1s"},
		{"history every fraction", "/api/v1/history?entity=x&point=no2&every=1500ms", "every", "whole number of seconds"},
		{"history every junk", "/api/v1/history?entity=x&point=no2&every=soon", "every", "is not a duration"},
		{"history too many windows", "/api/v1/history?entity=x&point=no2&every=1s&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z", "every", "more than 10000"},
		{"history no entity", "/api/v1/history?point=no2", "entity", "is required"},
		{"history no point", "/api/v1/history?entity=x", "point", "is empty"},
		{"history bad point", "/api/v1/history?entity=x&point=" + url.QueryEscape(`no2") FROM x; DROP`), "point", "has the character"},
		{"history bad from", "/api/v1/history?entity=x&point=no2&from=yesterday", "from", "is not an RFC 3339 time"},
		{"history bad to", "/api/v1/history?entity=x&point=no2&to=2026-13-01T00:00:00Z", "to", "is not an RFC 3339 time"},
		{"history from after to", "/api/v1/history?entity=x&point=no2&from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from", "is not before to"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := get(t, srv.URL+c.path, testToken, nil)
			wantError(t, resp, body, http.StatusBadRequest, c.param, c.contains)
		})
	}
	t.Run("stream Last-Event-ID header", func(t *testing.T) {
		resp, body := get(t, srv.URL+"/api/v1/stream", testToken, map[string]string{"Last-Event-ID": "-1"})
		wantError(t, resp, body, http.StatusBadRequest, "Last-Event-ID", "is not an event ID")
	})
}

func TestParseBBoxGood(t *testing.T) {
	b, err := parseBBox(" 11.1, 43.7 ,11.4,43.9")
	if err != nil {
		t.Fatal(err)
	}
	if b.Min[0] != 11.1 || b.Min[1] != 43.7 || b.Max[0] != 11.4 || b.Max[1] != 43.9 {
		t.Errorf("bound %v", b)
	}
	if _, err := parseBBox("-180,-90,180,90"); err != nil {
		t.Errorf("whole world: %v", err)
	}
}

func FuzzParseBBox(f *testing.F) {
	for _, s := range []string{"11.1,43.7,11.4,43.9", "1,2,3", "", ",,,", "NaN,0,0,0", "1e400,0,0,0", "-180,-90,180,90", "0x1p-2,0,1,1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := parseBBox(s)
		if err != nil {
			pe, ok := err.(*paramError)
			if !ok || pe.param != "bbox" || pe.msg == "" {
				t.Fatalf("error %v (%T) does not name bbox", err, err)
			}
			return
		}
		for _, v := range []float64{b.Min[0], b.Min[1], b.Max[0], b.Max[1]} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("accepted non-finite %v", b)
			}
		}
		if b.Min[0] > b.Max[0] || b.Min[1] > b.Max[1] || b.Min[0] < -180 || b.Max[0] > 180 || b.Min[1] < -90 || b.Max[1] > 90 {
			t.Fatalf("accepted bad bound %v from %q", b, s)
		}
	})
}

func FuzzParseTypes(f *testing.F) {
	for _, s := range []string{"site", "AirQualityObserved,road", "", ",", "a'b", strings.Repeat("a,", 40), "urn:x.y-z_1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		types, err := parseTypes(s)
		if err != nil {
			pe, ok := err.(*paramError)
			if !ok || pe.param != "type" || !utf8.ValidString(pe.msg) && utf8.ValidString(s) {
				t.Fatalf("error %v (%T) does not name type", err, err)
			}
			return
		}
		if len(types) == 0 || len(types) > maxTypes {
			t.Fatalf("%d types from %q", len(types), s)
		}
		for _, ty := range types {
			if checkName(ty) != "" || strings.ContainsAny(ty, ", '\"\\") {
				t.Fatalf("accepted bad type %q from %q", ty, s)
			}
		}
	})
}
