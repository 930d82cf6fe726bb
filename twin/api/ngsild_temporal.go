package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// The temporal evolution of an entity (ETSI GS CIM 009 V1.8.1, clause
// 6.19.3.1), read from InfluxDB through Config.History.
//
// Decisions:
//   - Each instance is the mean of the attribute over one window, at the
//     window's start, because HistoryQuerier reads windowed means. The
//     window is the range divided by MaxHistoryPoints, rounded up to a
//     whole second, at least 1 s: a range of up to MaxHistoryPoints
//     seconds (2 h 46 min by default) gives the readings themselves (a
//     device reports at most once a second), a longer one their means. So
//     an attribute never has more than MaxHistoryPoints instances.
//   - Ranges (timerel): none is the last DefaultHistorySpan; before timeAt
//     is the TemporalSpan before it; after timeAt runs to now and is
//     refused when timeAt is more than TemporalSpan ago; between is
//     refused when longer than TemporalSpan. An open range is closed
//     rather than read over the whole store, which the retention policy
//     bounds anyway.
//   - Instances are oldest first; with lastN, the last N instances of
//     each attribute newest first, as the specification orders them
//     (lastNewestFirst), read as such from the store when it can
//     (LastNQuerier).
//   - What one request may cost and how many run at once:
//     ngsild_temporal_limits.go.
//   - Attributes: those named by attrs, else every numeric attribute of
//     the entity; a named attribute that is not numeric is refused (its
//     history is not a series of numbers). An entity with no series of its
//     own (an area, a road, a gateway) has no attribute instances.
//   - options=temporalValues gives the simplified temporal representation
//     (clause 4.5.9: "values": [[value, observedAt], ...]); the default is
//     the normalized one (clause 4.5.7: an array of attribute instances).

// TemporalSpan is the longest time range one temporal request covers.
const TemporalSpan = 7 * 24 * time.Hour

// temporalParams are the parameters of GET /ngsi-ld/v1/temporal/entities/{id}.
var temporalParams = []string{"timerel", "timeAt", "endTimeAt", "lastN", "attrs", "options", "timeproperty"}

// temporalRequest is a checked temporal request.
type temporalRequest struct {
	from, to time.Time
	every    time.Duration
	lastN    int // 0: all
	attrs    []string
	simple   bool // options=temporalValues
}

// parseTemporal checks the parameters of a temporal request.
func (a *API) parseTemporal(v url.Values) (temporalRequest, *ngsild.Problem) {
	var t temporalRequest
	bad := func(param, format string, args ...any) (temporalRequest, *ngsild.Problem) {
		return t, ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrBadRequestData, param, fmt.Sprintf(format, args...))
	}
	if tp := v.Get("timeproperty"); tp != "" && tp != "observedAt" {
		return bad("timeproperty", "only observedAt is kept, not %s", quote(tp))
	}
	q, err := ngsild.ParseQuery(url.Values{"attrs": v["attrs"]})
	if err != nil {
		return t, asProblem(err, "attrs")
	}
	t.attrs = q.Attrs
	if o, ok := v["options"]; ok {
		switch o[0] {
		case "temporalValues":
			t.simple = true
		case "normalized":
		default:
			return bad("options", "%s is not temporalValues or normalized", quote(o[0]))
		}
	}
	if s, ok := v["lastN"]; ok {
		n, err := strconv.Atoi(s[0])
		if err != nil || n < 1 || n > a.cfg.MaxHistoryPoints {
			return bad("lastN", "%s is not an integer from 1 to %d", quote(s[0]), a.cfg.MaxHistoryPoints)
		}
		t.lastN = n
	}
	now := a.cfg.Now()
	times := map[string]time.Time{}
	for _, name := range []string{"timeAt", "endTimeAt"} {
		s, ok := v[name]
		if !ok {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, s[0])
		if err != nil {
			return bad(name, "%s is not a DateTime such as 2026-05-01T10:00:00Z", quote(s[0]))
		}
		if perr := checkHistoryTime(name, at); perr != nil {
			return bad(name, "%s", perr.msg)
		}
		times[name] = at
	}
	timeAt, hasAt := times["timeAt"]
	endTimeAt, hasEnd := times["endTimeAt"]
	switch rel := v.Get("timerel"); rel {
	case "":
		if hasAt || hasEnd {
			return t, ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrInvalidRequest, "timerel", "missing: timeAt and endTimeAt need timerel (before, after or between)")
		}
		t.from, t.to = now.Add(-DefaultHistorySpan), now
	case "before", "after", "between":
		if !hasAt {
			return t, ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrInvalidRequest, "timeAt", "missing: timerel="+rel+" needs timeAt")
		}
		if rel != "between" && hasEnd {
			return t, ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrInvalidRequest, "endTimeAt", "only timerel=between takes endTimeAt")
		}
		switch rel {
		case "before":
			t.from, t.to = timeAt.Add(-TemporalSpan), timeAt
		case "after":
			if now.Sub(timeAt) > TemporalSpan {
				return bad("timeAt", "after %s runs longer than %s to now; ask timerel=between with endTimeAt", timeAt.Format(time.RFC3339), TemporalSpan)
			}
			t.from, t.to = timeAt, now
		case "between":
			if !hasEnd {
				return t, ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrInvalidRequest, "endTimeAt", "missing: timerel=between needs endTimeAt")
			}
			if !endTimeAt.After(timeAt) {
				return bad("endTimeAt", "%s is not after timeAt %s", endTimeAt.Format(time.RFC3339Nano), timeAt.Format(time.RFC3339Nano))
			}
			if endTimeAt.Sub(timeAt) > TemporalSpan {
				return bad("endTimeAt", "the range is longer than %s; narrow it", TemporalSpan)
			}
			t.from, t.to = timeAt, endTimeAt
		}
	default:
		return bad("timerel", "%s is not before, after or between", quote(rel))
	}
	t.every = temporalWindow(t.to.Sub(t.from), a.cfg.MaxHistoryPoints)
	return t, nil
}

// temporalWindow is the window that cuts span into at most maxPoints
// windows: whole seconds, at least one.
func temporalWindow(span time.Duration, maxPoints int) time.Duration {
	every := time.Second
	if n := time.Duration(maxPoints); span > n*every {
		every = (span + n - 1) / n
		every = (every + time.Second - 1) / time.Second * time.Second
	}
	return every
}

// numeric says whether an attribute value has a numeric history.
func numeric(v any) bool {
	switch v.(type) {
	case float64, int64, int:
		return true
	}
	return false
}

// handleNGSITemporal answers GET /ngsi-ld/v1/temporal/entities/{id}.
func (a *API) handleNGSITemporal(w http.ResponseWriter, r *http.Request) {
	n, v, ok := a.ngsiBegin(w, r, temporalParams...)
	if !ok {
		return
	}
	req, p := a.parseTemporal(v)
	if p != nil {
		writeProblem(w, p)
		return
	}
	id := r.PathValue("id")
	e, found := a.visibleEntity(n, id)
	if !found {
		writeProblem(w, notFound(id))
		return
	}
	if a.cfg.History == nil {
		writeProblem(w, ngsild.NewProblem(http.StatusNotImplemented, ngsild.ErrOperationNotSupported, "",
			"the temporal API reads InfluxDB, and no time-series store is configured on this server"))
		return
	}
	plans, p := a.planTemporal([]twin.Entity{e}, req, "attrs")
	if p != nil {
		writeProblem(w, p)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.HistoryTimeout)
	defer cancel()
	out, p := a.temporalEntity(ctx, plans[0], req)
	if p != nil {
		writeProblem(w, p)
		return
	}
	writeNGSI(w, r, n, out)
}

// temporalEntity reads the temporal evolution that req asks for of the
// attributes of pl (planTemporal's): each attribute's instances within
// the range, the last req.lastN of them newest first when lastN is set.
func (a *API) temporalEntity(ctx context.Context, pl temporalPlan, req temporalRequest) (ngsild.Entity, *ngsild.Problem) {
	e := pl.e
	out := ngsild.Entity{"id": e.ID, "type": e.Type}
	for _, name := range pl.names {
		unit, points, err := a.series(ctx, e, historyRequest{entity: e.ID, point: name, from: req.from, to: req.to, every: req.every, lastN: req.lastN})
		if errors.Is(err, ErrNoSeries) {
			break
		}
		if err != nil {
			a.cfg.Logger.Warn("NGSI-LD temporal query failed", "entity", e.ID, "attr", name, "err", err)
			return nil, ngsild.NewProblem(http.StatusBadGateway, ngsild.ErrInternalError, "",
				"read the history of "+e.ID+" "+name+" from InfluxDB: "+err.Error())
		}
		if len(points) > 0 {
			out[name] = temporalAttr(points, unit, req.simple)
		}
	}
	return out, nil
}

// lastNewestFirst returns the last n of points (oldest first, as the
// store answers) newest first: the specification's lastN "refers to a
// number, n, of Attribute instances which shall correspond to the last n
// timestamps (in descending ordering)" of the range (quoted in
// ScorpioBroker/ScorpioBroker issue #371), and the ETSI test suite's TP
// 020_13 expects the Content-Range of a lastN answer (clause 6.3.10) to
// run from the most recent instance to the least recent.
func lastNewestFirst(points []HistoryPoint, n int) []HistoryPoint {
	if len(points) > n {
		points = points[len(points)-n:]
	}
	out := slices.Clone(points)
	slices.Reverse(out)
	return out
}

// temporalAttrs returns the attributes of e whose history a temporal
// request reads: attrs that e has (a non-numeric one refused), or all
// of e's numeric attributes; none for an entity without series.
func temporalAttrs(e twin.Entity, attrs []string) ([]string, *ngsild.Problem) {
	if e.Kind != twin.KindSite || e.Gateway == "" || e.Device == "" {
		return nil, nil
	}
	var names []string
	for name, at := range e.Attrs {
		switch {
		case len(attrs) == 0 && numeric(at.Value):
			names = append(names, name)
		case slices.Contains(attrs, name) && !numeric(at.Value):
			return nil, ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrBadRequestData, "attrs",
				quote(name)+" is not numeric; the temporal API serves numeric attributes")
		case slices.Contains(attrs, name):
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// temporalAttr renders the instances of one attribute: normalized (an
// array of Property instances) or simplified ({"type", "values"}).
func temporalAttr(points []HistoryPoint, unit string, simple bool) any {
	code, hasCode := ngsild.UnitCode(unit)
	if simple {
		values := make([][2]any, len(points))
		for i, pt := range points {
			values[i] = [2]any{pt.Value, pt.Time.UTC().Format(ngsiTime)}
		}
		return map[string]any{"type": "Property", "values": values}
	}
	out := make([]ngsild.Property, len(points))
	for i, pt := range points {
		out[i] = ngsild.Property{Type: "Property", Value: pt.Value, ObservedAt: pt.Time.UTC().Format(ngsiTime)}
		if hasCode {
			out[i].UnitCode = code
		}
	}
	return out
}

// ngsiTime is NGSI-LD's DateTime: ISO 8601 in UTC with milliseconds.
const ngsiTime = "2006-01-02T15:04:05.000Z"
