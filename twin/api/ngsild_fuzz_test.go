package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/twin"
)

// FuzzNGSIRequest: any query string, Accept and Link header is answered
// with 200 or a ProblemDetails of a 4xx status, never a panic.
func FuzzNGSIRequest(f *testing.F) {
	f.Add(uint8(0), `type=AirQualityObserved&q=no2>40;band=="good"&georel=near;maxDistance==2000&geometry=Point&coordinates=[11.25,43.771]`, "application/ld+json", "")
	f.Add(uint8(0), "idPattern=urn.*&limit=1000&offset=3&count=true&options=keyValues", "*/*;q=0.1", `<http://x/ngsi-ld/v1/contexts/ponte.jsonld>; rel="http://www.w3.org/ns/json-ld#context"`)
	f.Add(uint8(2), "timerel=between&timeAt=2026-05-01T09:00:00Z&endTimeAt=2026-05-01T10:00:00Z&lastN=2", "", "")
	f.Add(uint8(1), "details=true", "text/html", "<a>;json-ld#context")
	f.Add(uint8(3), "type=AirQualityObserved&lastN=3&options=temporalValues&count=true&limit=1&offset=1", "", "")
	fh := &fakeHistory{points: []HistoryPoint{{Time: t0, Value: 1}}}
	a, err := New(Config{Reader: newFakeReader(fixtureEntities()...), Tokens: []string{testToken}, History: fh,
		Now: func() time.Time { return t0.Add(time.Hour) }})
	if err != nil {
		f.Fatal(err)
	}
	handlers := []struct {
		path string
		h    http.HandlerFunc
	}{
		{"/ngsi-ld/v1/entities", a.handleNGSIEntities},
		{"/ngsi-ld/v1/types", a.handleNGSITypes},
		{"/ngsi-ld/v1/temporal/entities/" + siteAir.ID, a.handleNGSITemporal},
		{"/ngsi-ld/v1/temporal/entities", a.handleNGSITemporalQuery},
	}
	f.Fuzz(func(t *testing.T, route uint8, rawQuery, accept, link string) {
		h := handlers[int(route)%len(handlers)]
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.Path = h.path
		r.URL.RawQuery = rawQuery
		r.Header.Set("Accept", accept)
		r.Header.Set("Link", link)
		r.SetPathValue("id", siteAir.ID)
		w := httptest.NewRecorder()
		h.h(w, withScope(r, twin.AllScope()))
		if w.Code == http.StatusOK {
			return
		}
		var p struct{ Type, Detail string }
		if w.Code < 400 || w.Code > 499 || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Type == "" || p.Detail == "" {
			t.Fatalf("%s?%s: status %d: %s", h.path, rawQuery, w.Code, w.Body)
		}
	})
}

// FuzzNGSITenantRequest: every NGSI-LD read route (entity and type by
// path value included), called by a caller whose scope is a real
// tenant's (Bari, Firenze) or the whole city's, with any NGSILD-Tenant
// header, query string, Accept and Link, answers 200 or a ProblemDetails
// of a 4xx status, never a panic; and a 200 seen through the Bari scope
// (the caller's or the header's) never names a Firenze site.
func FuzzNGSITenantRequest(f *testing.F) {
	f.Add(uint8(0), uint8(1), "", "", "type=AirQualityObserved&options=keyValues", "application/ld+json", "")
	f.Add(uint8(1), uint8(0), "bari", "fi-air", "attrs=no2", "", "")
	f.Add(uint8(1), uint8(1), "", "fi-air", "", "application/json", "")
	f.Add(uint8(1), uint8(2), "firenze", "ba-air", "options=keyValues", "", "")
	f.Add(uint8(2), uint8(0), "firenze", "", "details=true", "*/*", "")
	f.Add(uint8(3), uint8(1), "", "AirQualityObserved", "", "", "")
	f.Add(uint8(3), uint8(0), "bari", "NoiseLevelObserved", "", "", "")
	f.Add(uint8(4), uint8(1), "bari", "ba-air", "timerel=before&timeAt=2026-05-01T09:00:00Z&lastN=3&options=temporalValues", "", "")
	f.Add(uint8(4), uint8(0), "nobody", "fi-noise", "attrs=LAeq", "", "")
	f.Add(uint8(5), uint8(0), "bari", "", "type=AirQualityObserved,NoiseLevelObserved&count=true&lastN=2", "", "")
	f.Add(uint8(5), uint8(2), "", "", "q=no2>1&limit=100&lastN=10000", "", `<http://x/ngsi-ld/v1/contexts/ponte.jsonld>; rel="http://www.w3.org/ns/json-ld#context"`)
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	tt := newTwoTenants(f, &fakeHistory{points: []HistoryPoint{{Time: at, Value: 40}}}, at)
	a := tt.api
	scopes := []twin.Scope{twin.AllScope()}
	for _, id := range []string{"bari", "firenze"} {
		s, err := tt.tw.Scope(id)
		if err != nil {
			f.Fatal(err)
		}
		scopes = append(scopes, s)
	}
	firenze := []string{tt.ids["fi-air"], tt.ids["fi-noise"]}
	handlers := []struct {
		path  string
		value string // the name of the route's path value, if it has one
		h     http.HandlerFunc
	}{
		{"/ngsi-ld/v1/entities", "", a.handleNGSIEntities},
		{"/ngsi-ld/v1/entities/", "id", a.handleNGSIEntity},
		{"/ngsi-ld/v1/types", "", a.handleNGSITypes},
		{"/ngsi-ld/v1/types/", "type", a.handleNGSIType},
		{"/ngsi-ld/v1/temporal/entities/", "id", a.handleNGSITemporal},
		{"/ngsi-ld/v1/temporal/entities", "", a.handleNGSITemporalQuery},
	}
	f.Fuzz(func(t *testing.T, route, who uint8, tenant, value, rawQuery, accept, link string) {
		h := handlers[int(route)%len(handlers)]
		scope := int(who) % len(scopes)
		if id, ok := tt.ids[value]; ok { // a device name stands for its site
			value = id
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.Path = h.path
		if h.value != "" {
			r.URL.Path += url.PathEscape(value)
			r.SetPathValue(h.value, value)
		}
		r.URL.RawQuery = rawQuery
		r.Header.Set("Accept", accept)
		r.Header.Set("Link", link)
		if tenant != "" {
			r.Header.Set(TenantHeader, tenant)
		}
		w := httptest.NewRecorder()
		h.h(w, withScope(r, scopes[scope]))
		if w.Code == http.StatusOK {
			if scope == 1 || tenant == "bari" {
				for _, id := range firenze {
					if strings.Contains(w.Body.String(), id) {
						t.Fatalf("%s (scope %d, tenant %q) ?%s: the Bari view names %s: %s", r.URL.Path, scope, tenant, rawQuery, id, w.Body)
					}
				}
			}
			return
		}
		var p struct{ Type, Detail string }
		if w.Code < 400 || w.Code > 499 || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Type == "" || p.Detail == "" {
			t.Fatalf("%s (scope %d, tenant %q) ?%s: status %d: %s", r.URL.Path, scope, tenant, rawQuery, w.Code, w.Body)
		}
	})
}
