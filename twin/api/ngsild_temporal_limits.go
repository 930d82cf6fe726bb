package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// What one NGSI-LD temporal request may cost, and how many run at once
// (review of issue 15, M2).
//
// Decisions:
//   - A request's cost is counted before the store is asked, at its
//     worst: the sum over the entities it answers of their attributes
//     times the most instances one attribute can have (lastN when set,
//     else the number of windows of the range). Each instance is built in
//     memory and marshalled in one answer, so a request whose worst case
//     is above TemporalLimits.MaxInstances is refused 400 BadRequestData
//     with the figures and what narrows it (limit, attrs, lastN,
//     timerel), rather than cut short: a partial history that looks whole
//     would mislead a dashboard.
//   - lastN is pushed down to the store when it can read the newest n
//     windows itself (LastNQuerier; InfluxHistory can: ORDER BY time DESC
//     LIMIT n), so InfluxDB, not the API, drops the older windows.
//   - At most TemporalLimits.MaxQueries temporal requests are served at
//     once per Handler; one beyond is answered at once with 503
//     ServiceUnavailable and Retry-After, not queued (a ProblemDetails of
//     type InternalError: ETSI GS CIM 009 defines no type for a busy
//     server), because a client that waits holds a connection and a
//     goroutine, and InfluxDB is better asked again later than piled up
//     on.

// Defaults of TemporalLimits' zero fields.
const (
	DefaultTemporalMaxInstances = 100000
	DefaultTemporalMaxQueries   = 4
)

// temporalRetryAfter is the Retry-After, in seconds, of a temporal
// request refused because MaxQueries are running.
const temporalRetryAfter = 2

// TemporalLimits bound the NGSI-LD temporal API (Config.Temporal). Zero
// fields take the defaults above.
type TemporalLimits struct {
	// MaxInstances bounds the attribute instances one temporal request
	// may answer, counted at worst before the store is asked.
	MaxInstances int
	// MaxQueries bounds the temporal requests served at once; beyond
	// it, 503 with Retry-After.
	MaxQueries int
}

// validate reports the negative fields of l, naming them.
func (l TemporalLimits) validate() []error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"MaxInstances", l.MaxInstances}, {"MaxQueries", l.MaxQueries}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("config.Temporal.%s: %d, want >= 0 (0: default)", f.name, f.v))
		}
	}
	return errs
}

// withDefaults returns l with its zero fields set.
func (l TemporalLimits) withDefaults() TemporalLimits {
	if l.MaxInstances == 0 {
		l.MaxInstances = DefaultTemporalMaxInstances
	}
	if l.MaxQueries == 0 {
		l.MaxQueries = DefaultTemporalMaxQueries
	}
	return l
}

// temporalGate wraps temporal handlers so that at most a fixed number run
// at once. One gate is shared by the routes of one Handler.
type temporalGate chan struct{}

// newTemporalGate returns a gate that lets n requests through at once.
func newTemporalGate(n int) temporalGate { return make(temporalGate, n) }

// wrap returns h behind the gate: a request that finds it full is
// answered 503 with Retry-After.
func (g temporalGate) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case g <- struct{}{}:
			defer func() { <-g }()
			h(w, r)
		default:
			w.Header().Set("Retry-After", strconv.Itoa(temporalRetryAfter))
			writeProblem(w, ngsild.NewProblem(http.StatusServiceUnavailable, ngsild.ErrInternalError, "",
				fmt.Sprintf("%d temporal queries are running, the most this server runs at once; retry in %d s", cap(g), temporalRetryAfter)))
		}
	}
}

// perAttr is the most instances one attribute can have in the answer to
// t: lastN, else the windows of the range.
func (t temporalRequest) perAttr() int {
	if t.lastN > 0 {
		return t.lastN
	}
	span := t.to.Sub(t.from)
	return int(max((span+t.every-1)/t.every, 1))
}

// temporalPlan is one entity a temporal request answers, and the
// attributes whose history it reads.
type temporalPlan struct {
	e     twin.Entity
	names []string
}

// planTemporal returns the attributes of each of es that req reads, or
// a 400 when the worst case of the answer is above the instance budget;
// param is the parameter the problem names first (limit on the query
// route, attrs on the single-entity one).
func (a *API) planTemporal(es []twin.Entity, req temporalRequest, param string) ([]temporalPlan, *ngsild.Problem) {
	plans := make([]temporalPlan, 0, len(es))
	attrs := 0
	for _, e := range es {
		names, p := temporalAttrs(e, req.attrs)
		if p != nil {
			return nil, p
		}
		plans = append(plans, temporalPlan{e, names})
		attrs += len(names)
	}
	per := req.perAttr()
	budget := a.cfg.Temporal.MaxInstances
	if worst := int64(attrs) * int64(per); worst > int64(budget) {
		return nil, ngsild.NewProblem(http.StatusBadRequest, ngsild.ErrBadRequestData, param, fmt.Sprintf(
			"this request may answer %d attribute instances (%d entities, %d attributes in all, up to %d instances each over %s in windows of %s), more than the budget of %d; "+
				"ask fewer entities (limit, type, q), fewer attributes (attrs), fewer instances (lastN) or a shorter range (timerel, timeAt, endTimeAt)",
			worst, len(es), attrs, per, req.to.Sub(req.from).Round(time.Second), req.every, budget))
	}
	return plans, nil
}
