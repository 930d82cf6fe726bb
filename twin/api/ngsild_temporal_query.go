package api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// Query the temporal evolution of entities (ETSI GS CIM 009 V1.8.1,
// clause 6.18.3.2; operation 5.7.4): GET /ngsi-ld/v1/temporal/entities
// selects entities as query entities does (id, idPattern, type, attrs, q,
// georel) among those the caller's scope sees, and answers each one's
// temporal evolution as the single-entity route does (timerel, timeAt,
// endTimeAt, lastN, attrs, options=temporalValues).
//
// Decisions:
//   - At most MaxTemporalEntities entities per request (limit, default
//     ngsild.DefaultLimit; a larger limit is refused 400 naming it), each
//     attribute bounded as on the single-entity route (MaxHistoryPoints
//     instances), and the whole answer by Config.Temporal.MaxInstances,
//     counted at worst before InfluxDB is asked (ngsild_temporal_limits.go).
//     The series are read one after the other, all within one
//     Config.HistoryTimeout.
//   - A query needs type, attrs, q or georel: id or idPattern alone is
//     refused 400 BadRequestData, as the ETSI test suite's TP 021_24
//     (clause 5.7.4) asks; a bare query would read the whole city's
//     history.
//   - count=true gives the number of entities matched (before paging) in
//     NGSILD-Results-Count; the page has Link rel="prev"/"next".
//   - Entities in ID order, each with the attributes that have instances
//     in the range; an entity without any is still listed with its id and
//     type, so paging does not depend on the store's contents.

// MaxTemporalEntities bounds the entities one temporal query answers.
const MaxTemporalEntities = 100

// temporalQueryParams are the parameters of GET /ngsi-ld/v1/temporal/entities.
var temporalQueryParams = []string{"id", "idPattern", "type", "attrs", "q", "georel", "geometry", "coordinates",
	"geoproperty", "count", "limit", "offset", "timerel", "timeAt", "endTimeAt", "lastN", "options", "timeproperty"}

// handleNGSITemporalQuery answers GET /ngsi-ld/v1/temporal/entities.
func (a *API) handleNGSITemporalQuery(w http.ResponseWriter, r *http.Request) {
	n, v, ok := a.ngsiBegin(w, r, temporalQueryParams...)
	if !ok {
		return
	}
	req, p := a.parseTemporal(v)
	if p != nil {
		writeProblem(w, p)
		return
	}
	// The entity selection is query entities' (options and the temporal
	// parameters are parseTemporal's).
	sel := url.Values{}
	for k, vs := range v {
		if !slices.Contains(temporalParams, k) || k == "attrs" {
			sel[k] = vs
		}
	}
	q, err := ngsild.ParseQuery(sel)
	if err != nil {
		writeProblem(w, asProblem(err, ""))
		return
	}
	if q.Limit > MaxTemporalEntities {
		writeProblem(w, ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrBadRequestData, "limit",
			strconv.Itoa(q.Limit)+" is above "+strconv.Itoa(MaxTemporalEntities)+", the most entities one temporal query answers"))
		return
	}
	ids, p := parseIDFilter(v)
	if p != nil {
		writeProblem(w, p)
		return
	}
	if len(q.Types) == 0 && len(q.Attrs) == 0 && q.Q == nil && q.Geo == nil {
		writeProblem(w, ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrBadRequestData, "type",
			"a temporal query needs at least one of type, attrs, q or georel"))
		return
	}
	var matched []twin.Entity
	for _, e := range a.reader.Entities(twin.Filter{Types: q.Types}) {
		if n.scope.Visible(&e) && ids.match(e.ID) && q.Match(e) {
			matched = append(matched, e)
		}
	}
	page := q.Page(matched)
	if len(page) > 0 && a.cfg.History == nil {
		writeProblem(w, ngsild.NewProblem(http.StatusNotImplemented, ngsild.ErrOperationNotSupported, "",
			"the temporal API reads InfluxDB, and no time-series store is configured on this server"))
		return
	}
	plans, p := a.planTemporal(page, req, "limit")
	if p != nil {
		writeProblem(w, p)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.HistoryTimeout)
	defer cancel()
	out := []ngsild.Entity{}
	for _, pl := range plans {
		te, p := a.temporalEntity(ctx, pl, req)
		if p != nil {
			writeProblem(w, p)
			return
		}
		out = append(out, te)
	}
	if q.Count {
		w.Header().Set(ResultsCountHeader, strconv.Itoa(len(matched)))
	}
	addPageLinks(w.Header(), r, v, q, len(matched), n.ld)
	writeNGSI(w, r, n, out)
}
