package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// wantProblem checks an NGSI-LD ProblemDetails answer: status, JSON
// content type, error type, and a detail that starts with param.
func wantProblem(t testing.TB, resp *http.Response, body []byte, status int, typ, param string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var p struct {
		Type, Title, Detail string
		Status              int
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem %q is not JSON: %v", body, err)
	}
	if p.Type != typ || p.Status != status || p.Title == "" || !strings.HasPrefix(p.Detail, param+": ") {
		t.Errorf("problem %s; want type %s, status %d, detail naming %q", body, typ, status, param)
	}
}

// entityIDs decodes an NGSI-LD entity list and returns its IDs.
func entityIDs(t testing.TB, body []byte) []string {
	t.Helper()
	var es []map[string]any
	if err := json.Unmarshal(body, &es); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	ids := []string{}
	for _, e := range es {
		ids = append(ids, e["id"].(string))
	}
	return ids
}

// TestNGSIQueryEntities: every parameter of query entities selects what
// it says, through the real handler (operator check included).
func TestNGSIQueryEntities(t *testing.T) {
	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), nil)
	base := srv.URL + "/ngsi-ld/v1/entities?"
	cases := []struct {
		name, query string
		want        []string
	}{
		{"type", "type=AirQualityObserved", []string{siteBA.ID, siteAir.ID}},
		{"type list", "type=TrafficFlowObserved,Device", []string{gwBA.ID, siteTraffic.ID}},
		{"id list", "id=" + url.QueryEscape(siteAir.ID+","+siteTraffic.ID), []string{siteAir.ID, siteTraffic.ID}},
		{"idPattern", "idPattern=" + url.QueryEscape("urn:ngsi-ld:.*:fi-[0-9]+"), []string{siteAir.ID, siteTraffic.ID}},
		{"q with ; unescaped", `q=no2>40;band=="good"`, []string{siteAir.ID}},
		{"q or", `q=no2>100|intensity>=120`, []string{siteTraffic.ID}},
		{"attrs", "attrs=congested", []string{siteTraffic.ID}},
		{"georel near", "type=AirQualityObserved&georel=near;maxDistance==2000&geometry=Point&coordinates=[11.25,43.771]", []string{siteAir.ID}},
		{"georel within", "georel=within&geometry=Polygon&coordinates=[[[16.8,41.1],[16.9,41.1],[16.9,41.13],[16.8,41.13],[16.8,41.1]]]", []string{gwBA.ID, siteBA.ID}},
		{"limit and offset", "type=AirQualityObserved,TrafficFlowObserved&limit=1&offset=1", []string{siteAir.ID}},
		{"offset past the end", "type=Device&offset=5", []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := get(t, base+c.query, testToken, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if got := entityIDs(t, body); !slices.Equal(got, c.want) {
				t.Errorf("ids %v, want %v", got, c.want)
			}
		})
	}
	t.Run("count", func(t *testing.T) {
		resp, body := get(t, base+"type=AirQualityObserved,TrafficFlowObserved&count=true&limit=1", testToken, nil)
		if resp.Header.Get("NGSILD-Results-Count") != "3" || len(entityIDs(t, body)) != 1 {
			t.Errorf("count %q, body %s", resp.Header.Get("NGSILD-Results-Count"), body)
		}
		resp, body = get(t, base+"type=Device&count=true&limit=0", testToken, nil)
		if resp.Header.Get("NGSILD-Results-Count") != "1" || len(entityIDs(t, body)) != 0 {
			t.Errorf("limit=0: count %q, body %s", resp.Header.Get("NGSILD-Results-Count"), body)
		}
	})
	t.Run("normalized by default, keyValues on demand", func(t *testing.T) {
		_, body := get(t, base+"id="+url.QueryEscape(siteAir.ID), testToken, nil)
		var es []map[string]any
		_ = json.Unmarshal(body, &es)
		no2, _ := es[0]["no2"].(map[string]any)
		if no2["type"] != "Property" || no2["value"] != 41.5 || no2["unitCode"] != "GQ" || no2["observedAt"] != "2026-05-01T10:00:00.000Z" {
			t.Errorf("normalized no2 %v", es[0]["no2"])
		}
		_, body = get(t, base+"id="+url.QueryEscape(siteAir.ID)+"&options=keyValues&attrs=no2", testToken, nil)
		es = nil
		_ = json.Unmarshal(body, &es)
		if len(es) != 1 || es[0]["no2"] != 41.5 || len(es[0]) != 3 {
			t.Errorf("keyValues with attrs=no2: %s", body)
		}
	})
	t.Run("operator token required", func(t *testing.T) {
		resp, _ := get(t, base+"type=Device", "", nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d without a token", resp.StatusCode)
		}
	})
}

// TestNGSIContentNegotiation: application/json answers link the context;
// application/ld+json answers carry it in the body; other types get 406.
func TestNGSIContentNegotiation(t *testing.T) {
	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), nil)
	u := srv.URL + "/ngsi-ld/v1/entities/" + url.PathEscape(siteAir.ID)
	ctxURL := srv.URL + ngsild.ContextPath

	for _, accept := range []string{"", "application/json", "*/*", "application/ld+json;q=0.5, application/json"} {
		resp, body := get(t, u, testToken, map[string]string{"Accept": accept})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("Accept %q: status %d type %q", accept, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if link := resp.Header.Get("Link"); link != "<"+ctxURL+`>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"` {
			t.Errorf("Accept %q: Link %q", accept, link)
		}
		if strings.Contains(string(body), "@context") {
			t.Errorf("Accept %q: @context in an application/json body", accept)
		}
	}
	resp, body := get(t, u, testToken, map[string]string{"Accept": "application/ld+json, application/json"})
	var e map[string]any
	_ = json.Unmarshal(body, &e)
	if resp.Header.Get("Content-Type") != "application/ld+json" || resp.Header.Get("Link") != "" || e["@context"] != ctxURL {
		t.Errorf("ld+json: type %q Link %q @context %v", resp.Header.Get("Content-Type"), resp.Header.Get("Link"), e["@context"])
	}
	resp, body = get(t, u, testToken, map[string]string{"Accept": "text/html"})
	wantProblem(t, resp, body, http.StatusNotAcceptable, ngsild.ErrInvalidRequest, "Accept")

	// A Link to Ponte's context is fine (from any host); another is refused.
	ours := `<https://ponte.example.org` + ngsild.ContextPath + `>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`
	if resp, body := get(t, u, testToken, map[string]string{"Link": ours}); resp.StatusCode != http.StatusOK {
		t.Errorf("Link to Ponte's context: status %d: %s", resp.StatusCode, body)
	}
	other := `<https://smartdatamodels.org/context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`
	resp, body = get(t, u, testToken, map[string]string{"Link": other})
	wantProblem(t, resp, body, http.StatusBadRequest, ngsild.ErrLdContextNotAvailable, "Link")
}

// TestNGSIProblems: hostile or wrong parameters are ProblemDetails that
// name the parameter.
func TestNGSIProblems(t *testing.T) {
	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), nil)
	base := srv.URL + "/ngsi-ld/v1/entities?"
	cases := []struct {
		name, query, typ, param string
	}{
		{"no filter", "limit=5", ngsild.ErrBadRequestData, "type"},
		{"q unterminated", `q=name=="abc`, ngsild.ErrBadRequestData, "q"},
		{"q injection-ish", `q=no2>1);DROP`, ngsild.ErrBadRequestData, "q"},
		{"q deep nesting", "q=" + strings.Repeat("(", 5000) + "a==1" + strings.Repeat(")", 5000), ngsild.ErrBadRequestData, "q"},
		{"georel unknown", "georel=around&geometry=Point&coordinates=[1,2]", ngsild.ErrBadRequestData, "georel"},
		{"georel without geometry", "georel=within", ngsild.ErrInvalidRequest, "geometry"},
		{"coordinates not numbers", "georel=near;maxDistance==10&geometry=Point&coordinates=[1e999,2]", ngsild.ErrBadRequestData, "coordinates"},
		{"limit too big", "type=Device&limit=1001", ngsild.ErrBadRequestData, "limit"},
		{"limit negative", "type=Device&limit=-1", ngsild.ErrBadRequestData, "limit"},
		{"limit 0 without count", "type=Device&limit=0", ngsild.ErrInvalidRequest, "limit"},
		{"bad options", "type=Device&options=sysAttrs", ngsild.ErrBadRequestData, "options"},
		{"bad idPattern", "idPattern=(", ngsild.ErrBadRequestData, "idPattern"},
		{"idPattern too long", "idPattern=" + strings.Repeat("a", MaxIDPatternLen+1), ngsild.ErrBadRequestData, "idPattern"},
		{"idPattern escaping its anchors", "idPattern=" + url.QueryEscape("a)|(b"), ngsild.ErrBadRequestData, "idPattern"},
		{"id not a URI", "id=%20", ngsild.ErrBadRequestData, "id"},
		{"unknown parameter", "type=Device&orderBy=name", ngsild.ErrBadRequestData, "orderBy"},
		{"bad escape", "type=Device&q=%zz", ngsild.ErrBadRequestData, "q"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := get(t, base+c.query, testToken, nil)
			wantProblem(t, resp, body, http.StatusBadRequest, c.typ, c.param)
		})
	}
	t.Run("unknown tenant", func(t *testing.T) {
		resp, body := get(t, base+"type=Device", testToken, map[string]string{TenantHeader: "comune-di-nowhere"})
		wantProblem(t, resp, body, http.StatusNotFound, ngsild.ErrNonexistentTenant, TenantHeader)
	})
	t.Run("entity route refuses query parameters", func(t *testing.T) {
		resp, body := get(t, srv.URL+"/ngsi-ld/v1/entities/"+url.PathEscape(siteAir.ID)+"?q=no2>1", testToken, nil)
		wantProblem(t, resp, body, http.StatusBadRequest, ngsild.ErrBadRequestData, "q")
	})
	t.Run("unknown path", func(t *testing.T) {
		resp, body := get(t, srv.URL+"/ngsi-ld/v1/csourceRegistrations", testToken, nil)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), ngsild.ErrResourceNotFound) {
			t.Errorf("status %d: %s", resp.StatusCode, body)
		}
	})
}

// TestNGSIRetrieveEntity: one entity, attrs and options; a missing one is
// ResourceNotFound.
func TestNGSIRetrieveEntity(t *testing.T) {
	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), nil)
	u := srv.URL + "/ngsi-ld/v1/entities/" + url.PathEscape(siteTraffic.ID)
	resp, body := get(t, u+"?attrs=intensity,location", testToken, nil)
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	loc, _ := e["location"].(map[string]any)
	if e["id"] != siteTraffic.ID || e["type"] != "TrafficFlowObserved" || len(e) != 4 || loc["type"] != "GeoProperty" {
		t.Errorf("entity %s", body)
	}
	_, body = get(t, u+"?options=keyValues", testToken, nil)
	e = nil
	_ = json.Unmarshal(body, &e)
	if e["intensity"] != 120.0 || e["congested"] != true || e["name"] != "Fi traffic 2" {
		t.Errorf("keyValues %s", body)
	}
	resp, body = get(t, srv.URL+"/ngsi-ld/v1/entities/urn:ngsi-ld:Thing:none", testToken, nil)
	wantProblem(t, resp, body, http.StatusNotFound, ngsild.ErrResourceNotFound, "id")
}

// TestNGSITypes: the type list, its details, one type's info.
func TestNGSITypes(t *testing.T) {
	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), nil)
	resp, body := get(t, srv.URL+"/ngsi-ld/v1/types", testToken, nil)
	var list struct {
		ID, Type string
		TypeList []string
	}
	if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	want := []string{"AdministrativeArea", "AirQualityObserved", "Device", "RoadSegment", "TrafficFlowObserved"}
	if list.Type != "EntityTypeList" || !strings.HasPrefix(list.ID, "urn:ngsi-ld:EntityTypeList:") || !slices.Equal(list.TypeList, want) {
		t.Errorf("types %s", body)
	}
	_, body = get(t, srv.URL+"/ngsi-ld/v1/types?details=true", testToken, nil)
	var details []struct {
		ID, Type, TypeName string
		AttributeNames     []string
	}
	_ = json.Unmarshal(body, &details)
	if len(details) != len(want) || details[1].TypeName != "AirQualityObserved" || details[1].Type != "EntityType" ||
		!slices.Equal(details[1].AttributeNames, []string{"areaServed", "band", "dateObserved", "location", "name", "no2"}) {
		t.Errorf("details %s", body)
	}
	_, body = get(t, srv.URL+"/ngsi-ld/v1/types/AirQualityObserved", testToken, nil)
	var info struct {
		Type, TypeName   string
		EntityCount      int
		AttributeDetails []struct{ AttributeName string }
	}
	_ = json.Unmarshal(body, &info)
	if info.Type != "EntityTypeInfo" || info.EntityCount != 2 || len(info.AttributeDetails) != 6 {
		t.Errorf("type info %s", body)
	}
	resp, body = get(t, srv.URL+"/ngsi-ld/v1/types/ParkingSpot", testToken, nil)
	wantProblem(t, resp, body, http.StatusNotFound, ngsild.ErrResourceNotFound, "type")
	resp, body = get(t, srv.URL+"/ngsi-ld/v1/types?details=yes", testToken, nil)
	wantProblem(t, resp, body, http.StatusBadRequest, ngsild.ErrBadRequestData, "details")
}

// scopedServer serves the NGSI-LD routes of a with the caller's scope
// fixed to s, as the operator check would set it for a token of s.
func scopedServer(t *testing.T, a *API, s twin.Scope) string {
	t.Helper()
	mux := http.NewServeMux()
	for route, h := range map[string]http.HandlerFunc{
		"GET /ngsi-ld/v1/entities":               a.handleNGSIEntities,
		"GET /ngsi-ld/v1/entities/{id}":          a.handleNGSIEntity,
		"GET /ngsi-ld/v1/types":                  a.handleNGSITypes,
		"GET /ngsi-ld/v1/types/{type}":           a.handleNGSIType,
		"GET /ngsi-ld/v1/temporal/entities/{id}": a.handleNGSITemporal,
	} {
		mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) { h(w, withScope(r, s)) })
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestNGSIScope: a caller whose scope sees nothing gets 404 for every
// entity, exactly as for a missing one, and sees none in lists, types or
// the temporal API; AllScope sees them all.
func TestNGSIScope(t *testing.T) {
	fh := &fakeHistory{points: []HistoryPoint{{Time: t0, Value: 40}}}
	_, a := newTestServer(t, newFakeReader(fixtureEntities()...), func(c *Config) { c.History = fh })
	none := scopedServer(t, a, twin.Scope{})
	all := scopedServer(t, a, twin.AllScope())
	id := url.PathEscape(siteAir.ID)

	_, missing := get(t, none+"/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:nope", "", nil)
	for _, path := range []string{"/ngsi-ld/v1/entities/" + id, "/ngsi-ld/v1/temporal/entities/" + id} {
		resp, body := get(t, none+path, "", nil)
		wantProblem(t, resp, body, http.StatusNotFound, ngsild.ErrResourceNotFound, "id")
		if strings.Replace(string(body), siteAir.ID, "urn:ngsi-ld:AirQualityObserved:nope", 1) != string(missing) {
			t.Errorf("%s out of scope answers %s, a missing entity %s", path, body, missing)
		}
		if resp, body := get(t, all+path, "", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("AllScope %s: status %d: %s", path, resp.StatusCode, body)
		}
	}
	for _, q := range []string{"type=AirQualityObserved", "idPattern=.*", `q=no2>0`} {
		_, body := get(t, none+"/ngsi-ld/v1/entities?count=true&"+q, "", nil)
		if ids := entityIDs(t, body); len(ids) != 0 {
			t.Errorf("%s: scope of nothing sees %v", q, ids)
		}
		if _, body := get(t, all+"/ngsi-ld/v1/entities?"+q, "", nil); len(entityIDs(t, body)) == 0 {
			t.Errorf("%s: AllScope sees nothing", q)
		}
	}
	_, body := get(t, none+"/ngsi-ld/v1/types", "", nil)
	if !strings.Contains(string(body), `"typeList":[]`) {
		t.Errorf("types of a scope of nothing: %s", body)
	}
	resp, body := get(t, none+"/ngsi-ld/v1/types/AirQualityObserved", "", nil)
	wantProblem(t, resp, body, http.StatusNotFound, ngsild.ErrResourceNotFound, "type")
	fh.mu.Lock()
	calls := len(fh.calls)
	fh.mu.Unlock()
	if calls != 1 { // AllScope's temporal request only
		t.Errorf("%d history queries, want 1: a hidden entity's history must not be read", calls)
	}
}

// TestNGSIContextDocument: Ponte's context is public, cacheable, with an
// ETag that a revalidation matches.
func TestNGSIContextDocument(t *testing.T) {
	srv, _ := newTestServer(t, newFakeReader(), nil)
	resp, body := get(t, srv.URL+ngsild.ContextPath, "", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/ld+json" ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "public") || string(body) != string(ngsild.ContextDocument()) {
		t.Fatalf("status %d type %q cache %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	resp, _ = get(t, srv.URL+ngsild.ContextPath, "", map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: status %d, want 304", resp.StatusCode)
	}
	resp, _ = get(t, srv.URL+ngsild.ContextPath, "", map[string]string{"If-None-Match": `"other"`})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("stale ETag: status %d, want 200", resp.StatusCode)
	}
}
