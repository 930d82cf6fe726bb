package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// problemCase is a request (base's query) and the problem it must get.
type problemCase struct {
	name, query string
	status      int
	typ, param  string
}

// runProblems sends each case's query after base with the operator
// token, as a subtest, and checks the ProblemDetails answer.
func runProblems(t *testing.T, base string, cases []problemCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := get(t, base+c.query, testToken, nil)
			wantProblem(t, resp, body, c.status, c.typ, c.param)
		})
	}
}

// temporalList decodes a temporal query's answer: each entity's ID and
// its no2 instances in the simplified form.
func temporalList(t testing.TB, body []byte) (ids []string, no2 map[string][][2]any) {
	t.Helper()
	var es []struct {
		ID  string
		No2 struct{ Values [][2]any }
	}
	if err := json.Unmarshal(body, &es); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	ids, no2 = []string{}, map[string][][2]any{}
	for _, e := range es {
		ids = append(ids, e.ID)
		no2[e.ID] = e.No2.Values
	}
	return ids, no2
}

// TestNGSITemporalQuery: the entities query's selection, the single
// route's ranges and lastN on each entity, paging with count and links,
// and the refusals, over a fake store.
func TestNGSITemporalQuery(t *testing.T) {
	fh := &fakeHistory{unit: "ug/m3", points: []HistoryPoint{{Time: t0, Value: 40}, {Time: t0.Add(time.Minute), Value: 42.5}, {Time: t0.Add(2 * time.Minute), Value: 45}}}
	now := t0.Add(time.Hour)
	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), func(c *Config) {
		c.History = fh
		c.Now = func() time.Time { return now }
	})
	base := srv.URL + "/ngsi-ld/v1/temporal/entities?"
	calls := func() []historyCall {
		fh.mu.Lock()
		defer fh.mu.Unlock()
		out := slices.Clone(fh.calls)
		fh.calls = nil
		return out
	}

	t.Run("type, between, lastN newest first", func(t *testing.T) {
		calls()
		resp, body := get(t, base+"type=AirQualityObserved&timerel=between&timeAt=2026-05-01T09:00:00Z&endTimeAt=2026-05-01T10:30:00Z&lastN=2&options=temporalValues", testToken, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != mediaJSON {
			t.Fatalf("status %d type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		ids, no2 := temporalList(t, body)
		if !slices.Equal(ids, []string{siteBA.ID, siteAir.ID}) {
			t.Errorf("ids %v", ids)
		}
		if v := no2[siteAir.ID]; len(v) != 2 || v[0][0] != 45.0 || v[1][0] != 42.5 {
			t.Errorf("%s no2 %v, want 45 then 42.5", siteAir.ID, v)
		}
		if len(no2[siteBA.ID]) != 0 {
			t.Errorf("%s has no numeric attribute, yet %v", siteBA.ID, no2[siteBA.ID])
		}
		for _, c := range calls() {
			if c.entity != siteAir.ID || c.point != "no2" || !c.from.Equal(t0.Add(-time.Hour)) || !c.to.Equal(t0.Add(30*time.Minute)) || c.every != time.Second || !c.hasDeadline {
				t.Errorf("store call %+v", c)
			}
		}
	})
	t.Run("q and idPattern narrow", func(t *testing.T) {
		_, body := get(t, base+"q=intensity>100&idPattern="+url.QueryEscape("urn:ngsi-ld:.*:fi-[0-9]"), testToken, nil)
		ids, _ := temporalList(t, body)
		if !slices.Equal(ids, []string{siteTraffic.ID}) {
			t.Errorf("ids %v", ids)
		}
	})
	t.Run("georel", func(t *testing.T) {
		_, body := get(t, base+"type=AirQualityObserved&georel=near;maxDistance==2000&geometry=Point&coordinates=[16.87,41.12]", testToken, nil)
		if ids, _ := temporalList(t, body); !slices.Equal(ids, []string{siteBA.ID}) {
			t.Errorf("ids %v", ids)
		}
	})
	t.Run("pages with count and links", func(t *testing.T) {
		q := "type=AirQualityObserved,TrafficFlowObserved&count=true&limit=1&offset=1&options=temporalValues"
		resp, body := get(t, base+q, testToken, nil)
		ids, _ := temporalList(t, body)
		if !slices.Equal(ids, []string{siteAir.ID}) || resp.Header.Get(ResultsCountHeader) != "3" {
			t.Fatalf("ids %v count %q", ids, resp.Header.Get(ResultsCountHeader))
		}
		links := resp.Header.Values("Link")
		want := []string{
			`</ngsi-ld/v1/temporal/entities?count=true&limit=1&offset=0&options=temporalValues&type=AirQualityObserved%2CTrafficFlowObserved>; rel="prev"; type="application/json"`,
			`</ngsi-ld/v1/temporal/entities?count=true&limit=1&offset=2&options=temporalValues&type=AirQualityObserved%2CTrafficFlowObserved>; rel="next"; type="application/json"`,
		}
		for _, w := range want {
			if !slices.Contains(links, w) {
				t.Errorf("links %q lack %s", links, w)
			}
		}
	})
	t.Run("temporalValues with attrs", func(t *testing.T) {
		_, body := get(t, base+"attrs=intensity&options=temporalValues", testToken, nil)
		var es []map[string]any
		_ = json.Unmarshal(body, &es)
		if len(es) != 1 || es[0]["id"] != siteTraffic.ID || es[0]["intensity"] == nil || es[0]["congested"] != nil {
			t.Errorf("answer %s", body)
		}
	})
	runProblems(t, base, []problemCase{
		{"id alone (ETSI TP 021_24)", "id=" + url.QueryEscape(siteAir.ID) + "&timerel=after&timeAt=2026-05-01T09:30:00Z", 400, ngsild.ErrBadRequestData, "type"},
		{"limit above the bound", "type=Device&limit=101", 400, ngsild.ErrBadRequestData, "limit"},
		{"keyValues", "type=Device&options=keyValues", 400, ngsild.ErrBadRequestData, "options"},
		{"bad timerel", "type=Device&timerel=during&timeAt=2026-05-01T09:30:00Z", 400, ngsild.ErrBadRequestData, "timerel"},
		{"bad q", "q=no2>>1", 400, ngsild.ErrBadRequestData, "q"},
		{"unknown parameter", "type=Device&aggrMethods=avg", 400, ngsild.ErrBadRequestData, "aggrMethods"},
		{"non-numeric attribute", "attrs=band", 400, ngsild.ErrBadRequestData, "attrs"},
	})
	t.Run("operator token required", func(t *testing.T) {
		resp, _ := get(t, base+"type=Device", "", nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

// TestNGSITemporalQueryScope: a token whose scope is the zero Scope sees
// no entity (and the store is not asked); without a store, a query that
// matches something is 501.
func TestNGSITemporalQueryScope(t *testing.T) {
	fh := &fakeHistory{points: []HistoryPoint{{Time: t0, Value: 1}}}
	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), func(c *Config) {
		c.History = fh
		c.Tenants = []Tenant{{ID: "nobody", Name: "No one", Tokens: []string{"nobody-token"}, Scope: twin.Scope{}}}
	})
	resp, body := get(t, srv.URL+"/ngsi-ld/v1/temporal/entities?type=AirQualityObserved&count=true", "nobody-token", nil)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "[]" || resp.Header.Get(ResultsCountHeader) != "0" {
		t.Errorf("status %d count %q: %s", resp.StatusCode, resp.Header.Get(ResultsCountHeader), body)
	}
	if len(fh.calls) != 0 {
		t.Errorf("the store was asked %d times for a scope that sees nothing", len(fh.calls))
	}

	srv, _ = newTestServer(t, newFakeReader(fixtureEntities()...), nil)
	resp, body = get(t, srv.URL+"/ngsi-ld/v1/temporal/entities?type=AirQualityObserved", testToken, nil)
	if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(string(body), ngsild.ErrOperationNotSupported) {
		t.Errorf("without a store: status %d: %s", resp.StatusCode, body)
	}
}
