package api

import (
	"encoding/json"
	"errors"
	"hash/fnv"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// The NGSI-LD read API (ETSI GS CIM 009 V1.8.1) over the twin: query
// entities (clause 6.4.3.2), retrieve entity (6.5.3.1), entity types
// (6.25, 6.26), the temporal evolution of an entity (6.19.3.1,
// ngsild_temporal.go) and of the entities a query selects (6.18.3.2,
// ngsild_temporal_query.go), and Ponte's @context document. Every route but the
// context is behind the operator check and the caller's scope narrowed by
// NGSILD-Tenant; an entity out of scope is answered exactly like one that
// does not exist.
//
// Decisions:
//   - Content negotiation (clauses 6.3.5, 6.3.6): Accept application/json
//     (or */*, or none) answers application/json with a Link header to
//     Ponte's context; application/ld+json puts "@context" in the body and
//     sends no Link header; anything else is 406.
//   - Ponte serves its own context only. A request's Link header may name
//     it (any host: the path decides); a Link to any other context is
//     refused 400 LdContextNotAvailable naming the header, rather than
//     answered with terms compacted against a context Ponte did not read.
//   - Errors are ProblemDetails (RFC 7807) with the NGSI-LD error types of
//     clause 5.5.2, as application/json, not application/problem+json:
//     the ETSI NGSI-LD test suite asserts "Content-Type: application/json"
//     on a 400 BadRequestData ProblemDetails (TP 040_02, clause 5.11.4);
//     it is also the type of the rest of this API's errors. The detail
//     names the parameter or header at fault.
//   - Lists (query entities, the temporal query) page with limit and
//     offset and carry Link rel="prev"/"next" (ngsild_paging.go).
//   - Query parameters Ponte does not know are refused (400 naming them)
//     rather than ignored, so a client never takes an unfiltered answer
//     for a filtered one.

// ngsiPrefix is the root of the NGSI-LD API's paths.
const ngsiPrefix = "/ngsi-ld/v1"

// Media types of NGSI-LD answers.
const (
	mediaJSON   = "application/json"
	mediaJSONLD = "application/ld+json"
)

// ResultsCountHeader carries the total of a query asked with count=true
// (clause 6.3.13).
const ResultsCountHeader = "NGSILD-Results-Count"

// MaxIDPatternLen bounds idPattern: Go's regexp runs in linear time, so
// only its size needs a bound.
const MaxIDPatternLen = 256

// ngsiRequest is what every NGSI-LD handler starts with: the caller's
// scope (narrowed by NGSILD-Tenant), the answer's form and Ponte's
// context URL.
type ngsiRequest struct {
	scope      twin.Scope
	ld         bool   // answer application/ld+json with @context in the body
	contextURL string // absolute URL of Ponte's @context
}

// writeProblem answers with p as ProblemDetails.
func writeProblem(w http.ResponseWriter, p *ngsild.Problem) {
	h := w.Header()
	h.Set("Content-Type", mediaJSON)
	h.Set("Cache-Control", "no-store")
	h.Del("ETag")
	h.Del("Link")
	w.WriteHeader(p.Status)
	b, _ := json.Marshal(p)
	_, _ = w.Write(append(b, '\n'))
}

// asProblem turns an error of the ngsild parsers into a Problem (they
// return *ngsild.Problem; anything else is a 400 about param).
func asProblem(err error, param string) *ngsild.Problem {
	var p *ngsild.Problem
	if errors.As(err, &p) {
		return p
	}
	return ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrBadRequestData, param, err.Error())
}

// ngsiBegin checks what every NGSI-LD request has in common (Accept,
// Link, NGSILD-Tenant, query parameters among known) and answers the
// problem itself when one is wrong. It returns the query parameters, split
// on "&" only (";" stays in values).
func (a *API) ngsiBegin(w http.ResponseWriter, r *http.Request, known ...string) (ngsiRequest, url.Values, bool) {
	n, ok := a.ngsiHeaders(w, r)
	if !ok {
		return n, nil, false
	}
	v, err := ngsild.SplitRawQuery(r.URL.RawQuery)
	if err != nil {
		writeProblem(w, asProblem(err, ""))
		return n, nil, false
	}
	if p := onlyParams(v, known...); p != nil {
		writeProblem(w, p)
		return n, nil, false
	}
	return n, v, true
}

// ngsiQuery is ngsiBegin, then ngsild.ParseQuery of the parameters.
func (a *API) ngsiQuery(w http.ResponseWriter, r *http.Request, known ...string) (ngsiRequest, url.Values, *ngsild.Query, bool) {
	n, v, ok := a.ngsiBegin(w, r, known...)
	if !ok {
		return n, nil, nil, false
	}
	q, err := ngsild.ParseQuery(v)
	if err != nil {
		writeProblem(w, asProblem(err, ""))
		return n, nil, nil, false
	}
	return n, v, q, true
}

// ngsiHeaders checks the headers of an NGSI-LD request.
func (a *API) ngsiHeaders(w http.ResponseWriter, r *http.Request) (ngsiRequest, bool) {
	var n ngsiRequest
	n.contextURL = a.baseURL(r) + ngsild.ContextPath
	ld, ok := negotiateNGSI(r.Header.Values("Accept"))
	if !ok {
		writeProblem(w, ngsild.NewProblem(http.StatusNotAcceptable, ngsild.ErrInvalidRequest, "Accept",
			"Ponte answers application/json or application/ld+json, not "+quote(strings.Join(r.Header.Values("Accept"), ", "))))
		return n, false
	}
	n.ld = ld
	s, ok := a.ngsiScope(w, r)
	n.scope = s
	return n, ok
}

// ngsiScope checks an NGSI-LD request's Link header (Ponte's context only)
// and returns its caller's scope narrowed by NGSILD-Tenant; it answers the
// problem and returns false when either is wrong.
func (a *API) ngsiScope(w http.ResponseWriter, r *http.Request) (twin.Scope, bool) {
	if p := checkLinkHeader(r.Header.Values("Link")); p != nil {
		writeProblem(w, p)
		return twin.Scope{}, false
	}
	s, err := a.tenantScope(r)
	if err != nil {
		writeProblem(w, ngsild.NewProblem(http.StatusNotFound, ngsild.ErrNonexistentTenant, TenantHeader, err.Error()))
		return twin.Scope{}, false
	}
	return s, true
}

// negotiateNGSI reads Accept headers: ld is true when application/ld+json is
// preferred; ok is false when neither JSON type is acceptable.
func negotiateNGSI(accept []string) (ld, ok bool) {
	best, bestQ := "", -1.0
	for _, h := range accept {
		for _, part := range strings.Split(h, ",") {
			media, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			media = strings.ToLower(strings.TrimSpace(media))
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.TrimSpace(k) == "q" {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
						q = f
					}
				}
			}
			switch media {
			case mediaJSONLD, mediaJSON, "application/*", "*/*":
			default:
				continue
			}
			if q > 0 && q > bestQ {
				best, bestQ = media, q
			}
		}
	}
	if len(accept) == 0 || strings.TrimSpace(strings.Join(accept, "")) == "" {
		return false, true
	}
	return best == mediaJSONLD, best != ""
}

// checkLinkHeader accepts no JSON-LD context link, or one to Ponte's
// context (whatever the host: the same document is served at every
// Ponte), and refuses any other context.
func checkLinkHeader(links []string) *ngsild.Problem {
	for _, h := range links {
		for _, l := range strings.Split(h, ",") {
			target, params, _ := strings.Cut(strings.TrimSpace(l), ";")
			if !strings.Contains(params, "json-ld#context") {
				continue
			}
			target = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(target), "<"), ">")
			u, err := url.Parse(target)
			if err != nil || u.Path != ngsild.ContextPath {
				return ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrLdContextNotAvailable, "Link",
					"Ponte answers with its own @context only ("+ngsild.ContextPath+"); send no Link header or one to that context, not "+quote(target))
			}
		}
	}
	return nil
}

// baseURL is the scheme and host a client reached Ponte at: r's own, or
// X-Forwarded-Proto/-Host when r comes from a trusted proxy.
func (a *API) baseURL(r *http.Request) string {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if a.fromTrustedProxy(r) {
		if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
			scheme = p
		}
		if h := r.Header.Get("X-Forwarded-Host"); h != "" && !strings.ContainsAny(h, "/ ,<>\"") {
			host = h
		}
	}
	return scheme + "://" + host
}

// fromTrustedProxy says whether r's peer is one of Public.TrustedProxies.
func (a *API) fromTrustedProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && isTrusted(addr, a.cfg.Public.TrustedProxies)
}

// writeNGSI answers 200 with body (an entity, a list, a type list) in the
// negotiated form: @context in each object for application/ld+json, a
// Link header for application/json.
func writeNGSI(w http.ResponseWriter, r *http.Request, n ngsiRequest, body any) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if n.ld {
		switch v := body.(type) {
		case []ngsild.Entity:
			for _, e := range v {
				e["@context"] = n.contextURL
			}
		case ngsild.Entity:
			v["@context"] = n.contextURL
		}
		h.Set("Content-Type", mediaJSONLD)
	} else {
		h.Set("Content-Type", mediaJSON)
		h.Add("Link", ngsild.LinkHeader(n.contextURL)) // after any pagination links
	}
	b, err := json.Marshal(body)
	if err != nil {
		writeProblem(w, ngsild.NewProblem(http.StatusInternalServerError, ngsild.ErrInternalError, "", "encode answer: "+err.Error()))
		return
	}
	h.Set("Vary", "Accept, Accept-Encoding")
	writeMaybeGzip(w, r, append(b, '\n'))
}

// onlyParams refuses a parameter not in known, naming it.
func onlyParams(v url.Values, known ...string) *ngsild.Problem {
	for name := range v {
		if !slices.Contains(known, name) {
			return ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrBadRequestData, name,
				"unknown parameter; this route takes "+strings.Join(known, ", "))
		}
	}
	return nil
}

// entityQueryParams are the parameters of GET /ngsi-ld/v1/entities.
var entityQueryParams = []string{"id", "idPattern", "type", "attrs", "q", "georel", "geometry", "coordinates",
	"geoproperty", "options", "count", "limit", "offset"}

// idFilter is the id and idPattern parameters.
type idFilter struct {
	ids     []string
	pattern *regexp.Regexp
}

// parseIDFilter reads id (a comma-separated list of URIs) and idPattern
// (a regular expression, matched against the whole ID).
func parseIDFilter(v url.Values) (idFilter, *ngsild.Problem) {
	var f idFilter
	if s := v.Get("id"); s != "" {
		for i, id := range strings.Split(s, ",") {
			if u, err := url.Parse(id); id == "" || err != nil || (u.Scheme == "" && !strings.Contains(id, ":")) {
				return f, ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrBadRequestData, "id",
					"item "+strconv.Itoa(i+1)+" "+quote(id)+" is not a URI such as urn:ngsi-ld:AirQualityObserved:fi-1")
			}
			f.ids = append(f.ids, id)
		}
	}
	if s, ok := v["idPattern"]; ok {
		if len(s[0]) > MaxIDPatternLen {
			return f, ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrBadRequestData, "idPattern",
				"longer than "+strconv.Itoa(MaxIDPatternLen)+" bytes")
		}
		// Compiled alone first: "a)|(b" would otherwise close the anchoring
		// group and match anywhere.
		_, err := regexp.Compile(s[0])
		var re *regexp.Regexp
		if err == nil {
			re, err = regexp.Compile("^(?:" + s[0] + ")$")
		}
		if err != nil {
			return f, ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrBadRequestData, "idPattern",
				"not a regular expression: "+err.Error())
		}
		f.pattern = re
	}
	return f, nil
}

// match says whether id passes the filter.
func (f idFilter) match(id string) bool {
	if len(f.ids) > 0 && !slices.Contains(f.ids, id) {
		return false
	}
	return f.pattern == nil || f.pattern.MatchString(id)
}

// handleNGSIEntities answers GET /ngsi-ld/v1/entities (query entities,
// clause 6.4.3.2).
func (a *API) handleNGSIEntities(w http.ResponseWriter, r *http.Request) {
	n, v, q, ok := a.ngsiQuery(w, r, entityQueryParams...)
	if !ok {
		return
	}
	ids, p := parseIDFilter(v)
	if p != nil {
		writeProblem(w, p)
		return
	}
	// Query Entities needs a filter: V1.1.1 clause 5.7.2.3 asks for type or
	// attrs (Orion-LD enforces it, its issue #36); later versions of
	// clause 5.7.2 let id, idPattern, q and geoQ select too, so any of
	// them will do. A bare query would page through the whole city.
	if len(q.Types) == 0 && len(q.Attrs) == 0 && q.Q == nil && q.Geo == nil && len(ids.ids) == 0 && ids.pattern == nil {
		writeProblem(w, ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrBadRequestData, "type",
			"a query needs at least one of type, attrs, q, georel, id or idPattern"))
		return
	}
	var matched []twin.Entity
	for _, e := range a.reader.Entities(twin.Filter{Types: q.Types}) {
		if n.scope.Visible(&e) && ids.match(e.ID) && q.Match(e) {
			matched = append(matched, e)
		}
	}
	if q.Count {
		w.Header().Set(ResultsCountHeader, strconv.Itoa(len(matched)))
	}
	addPageLinks(w.Header(), r, v, q, len(matched), n.ld)
	out := []ngsild.Entity{}
	for _, e := range q.Page(matched) {
		out = append(out, q.Represent(e))
	}
	writeNGSI(w, r, n, out)
}

// handleNGSIEntity answers GET /ngsi-ld/v1/entities/{id} (retrieve
// entity, clause 6.5.3.1).
func (a *API) handleNGSIEntity(w http.ResponseWriter, r *http.Request) {
	n, _, q, ok := a.ngsiQuery(w, r, "attrs", "options")
	if !ok {
		return
	}
	e, found := a.visibleEntity(n, r.PathValue("id"))
	if !found {
		writeProblem(w, notFound(r.PathValue("id")))
		return
	}
	writeNGSI(w, r, n, q.Represent(e))
}

// visibleEntity returns the entity id if it exists and n's scope sees it.
func (a *API) visibleEntity(n ngsiRequest, id string) (twin.Entity, bool) {
	e, ok := a.reader.Entity(id)
	if !ok || !n.scope.Visible(&e) {
		return twin.Entity{}, false
	}
	return e, true
}

// notFound is the answer for an entity that does not exist or that the
// caller may not see: the same, so that a tenant learns nothing of
// another's entities.
func notFound(id string) *ngsild.Problem {
	return ngsild.NewProblem(http.StatusNotFound, ngsild.ErrResourceNotFound, "id", "no entity "+quote(id))
}

// typeInfo is what the types routes say about one entity type.
type typeInfo struct {
	count int
	attrs map[string]bool
}

// visibleTypes groups the entities n's scope sees by type.
func (a *API) visibleTypes(n ngsiRequest, types []string) map[string]*typeInfo {
	out := map[string]*typeInfo{}
	for _, e := range a.reader.Entities(twin.Filter{Types: types}) {
		if !n.scope.Visible(&e) || (len(types) > 0 && !slices.Contains(types, e.Type)) {
			continue
		}
		t := out[e.Type]
		if t == nil {
			t = &typeInfo{attrs: map[string]bool{}}
			out[e.Type] = t
		}
		t.count++
		for name := range ngsild.Represent(e, ngsild.KeyValues, nil) {
			if name != "id" && name != "type" {
				t.attrs[name] = true
			}
		}
	}
	return out
}

// listID makes a stable URN for a generated list (EntityTypeList...): the
// same list has the same ID.
func listID(kind string, names []string) string {
	h := fnv.New64a()
	for _, n := range names {
		_, _ = h.Write([]byte(n))
		_, _ = h.Write([]byte{0})
	}
	return "urn:ngsi-ld:" + kind + ":" + strconv.FormatUint(h.Sum64(), 16)
}

// handleNGSITypes answers GET /ngsi-ld/v1/types (clause 6.25.3.1): an
// EntityTypeList, or with details=true an EntityType per type.
func (a *API) handleNGSITypes(w http.ResponseWriter, r *http.Request) {
	n, v, ok := a.ngsiBegin(w, r, "details")
	if !ok {
		return
	}
	details := false
	if s, ok := v["details"]; ok {
		if s[0] != "true" && s[0] != "false" {
			writeProblem(w, ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrBadRequestData, "details", "must be true or false, found "+quote(s[0])))
			return
		}
		details = s[0] == "true"
	}
	types := a.visibleTypes(n, nil)
	names := make([]string, 0, len(types))
	for t := range types {
		names = append(names, t)
	}
	slices.Sort(names)
	if !details {
		writeNGSI(w, r, n, ngsild.Entity{"id": listID("EntityTypeList", names), "type": "EntityTypeList", "typeList": names})
		return
	}
	out := []ngsild.Entity{}
	for _, t := range names {
		out = append(out, ngsild.Entity{"id": t, "type": "EntityType", "typeName": t, "attributeNames": sortedKeys(types[t].attrs)})
	}
	writeNGSI(w, r, n, out)
}

// handleNGSIType answers GET /ngsi-ld/v1/types/{type} (clause 6.26.3.1):
// an EntityTypeInfo with the count of entities the caller sees and their
// attributes.
func (a *API) handleNGSIType(w http.ResponseWriter, r *http.Request) {
	n, _, ok := a.ngsiBegin(w, r)
	if !ok {
		return
	}
	name := r.PathValue("type")
	t := a.visibleTypes(n, []string{name})[name]
	if t == nil {
		writeProblem(w, ngsild.NewProblem(http.StatusNotFound, ngsild.ErrResourceNotFound, "type", "no entity of type "+quote(name)))
		return
	}
	var details []map[string]any
	for _, attr := range sortedKeys(t.attrs) {
		kind := "Property"
		if attr == "location" {
			kind = "GeoProperty"
		}
		details = append(details, map[string]any{"id": attr, "type": "Attribute", "attributeName": attr, "attributeTypes": []string{kind}})
	}
	writeNGSI(w, r, n, ngsild.Entity{"id": name, "type": "EntityTypeInfo", "typeName": name, "entityCount": t.count, "attributeDetails": details})
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// handleNGSIContext serves Ponte's @context document: public (a JSON-LD
// processor fetches it without credentials), cacheable, with an ETag.
func handleNGSIContext(w http.ResponseWriter, r *http.Request) {
	doc := ngsild.ContextDocument()
	h := fnv.New64a()
	_, _ = h.Write(doc)
	etag := `"` + strconv.FormatUint(h.Sum64(), 16) + `"`
	hd := w.Header()
	setCORS(hd)
	hd.Set("ETag", etag)
	hd.Set("Cache-Control", "public, max-age=86400")
	if match := r.Header.Get("If-None-Match"); match != "" && (match == etag || match == "*" || slices.Contains(strings.Split(strings.ReplaceAll(match, " ", ""), ","), etag)) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", mediaJSONLD)
	_, _ = w.Write(doc)
}

// handleNGSIUnknown answers a path under /ngsi-ld/v1/ that Ponte does not
// serve, as ProblemDetails.
func handleNGSIUnknown(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, ngsild.NewProblem(http.StatusNotFound, ngsild.ErrResourceNotFound, "",
		"Ponte does not serve "+r.Method+" "+r.URL.Path+" (see /api/v1/openapi.json)"))
}

// ngsiHandlers are the handlers of the NGSI-LD routes (routes() lists
// them): all behind the operator check but the @context document.
func (a *API) ngsiHandlers() map[string]http.Handler {
	gate := newTemporalGate(a.cfg.Temporal.MaxQueries)
	return map[string]http.Handler{
		"GET " + ngsiPrefix + "/entities":               a.operator(a.handleNGSIEntities),
		"GET " + ngsiPrefix + "/entities/{id}":          a.operator(a.handleNGSIEntity),
		"GET " + ngsiPrefix + "/types":                  a.operator(a.handleNGSITypes),
		"GET " + ngsiPrefix + "/types/{type}":           a.operator(a.handleNGSIType),
		"GET " + ngsiPrefix + "/temporal/entities/{id}": a.operator(gate.wrap(a.handleNGSITemporal)),
		"GET " + ngsiPrefix + "/temporal/entities":      a.operator(gate.wrap(a.handleNGSITemporalQuery)),
		"GET " + ngsild.ContextPath:                     a.instrument("ngsild_context", http.HandlerFunc(handleNGSIContext)),
	}
}
