package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
