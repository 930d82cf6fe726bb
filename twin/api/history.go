package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/ponte-city/ponte/twin"
)

// DefaultHistorySpan is the time range of a history request without from.
const DefaultHistorySpan = 24 * time.Hour

// DefaultHistoryEvery is the window of a history request without every.
const DefaultHistoryEvery = 5 * time.Minute

// HistoryPoint is the mean of one time window.
type HistoryPoint struct {
	// Time is the window's start.
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
}

// HistoryQuerier reads the time series of one point of an entity.
type HistoryQuerier interface {
	// History returns the mean of point per window of every in [from, to)
	// for entity (a site: its Gateway and Device name the series), oldest
	// first, windows without data left out, and the point's unit if the
	// store knows it (else ""). An error means the store could not answer.
	History(ctx context.Context, entity twin.Entity, point string, from, to time.Time, every time.Duration) (unit string, points []HistoryPoint, err error)
}

// LastNQuerier is a HistoryQuerier that can read the newest windows of a
// range itself, so a request for the last n instances (the NGSI-LD
// temporal API's lastN) does not read the whole range (InfluxHistory
// can). The API uses it when Config.History implements it.
type LastNQuerier interface {
	// HistoryLastN returns what History returns for the same arguments,
	// but only the newest n windows with data, newest first.
	HistoryLastN(ctx context.Context, entity twin.Entity, point string, from, to time.Time, every time.Duration, n int) (unit string, points []HistoryPoint, err error)
}

// ErrNoSeries is what a HistoryQuerier returns for an entity that has no
// time series of its own (an area, a road): the API answers 400.
var ErrNoSeries = errors.New("entity has no time series")

// The time range InfluxDB can store: nanoseconds since 1970 in an int64,
// less the extremes it reserves. Times outside it would overflow into a
// nonsense query, so history refuses them.
var (
	minHistoryTime = time.Unix(0, math.MinInt64+2).UTC() // 1677-09-21T00:12:43.145224194Z
	maxHistoryTime = time.Unix(0, math.MaxInt64-1).UTC() // 2262-04-11T23:47:16.854775806Z
)

// checkHistoryTime refuses t outside [minHistoryTime, maxHistoryTime],
// naming param and the range.
func checkHistoryTime(param string, t time.Time) *paramError {
	if t.Before(minHistoryTime) || t.After(maxHistoryTime) {
		return &paramError{param, fmt.Sprintf("%s is outside the time range InfluxDB stores, %s to %s",
			t.Format(time.RFC3339Nano), minHistoryTime.Format(time.RFC3339Nano), maxHistoryTime.Format(time.RFC3339Nano))}
	}
	return nil
}

// historyAnswer is the body of /api/v1/history.
type historyAnswer struct {
	Entity string         `json:"entity"`
	Point  string         `json:"point"`
	Unit   string         `json:"unit"`
	Every  string         `json:"every"`
	Points []HistoryPoint `json:"points"`
}

// historyRequest is a checked history request.
type historyRequest struct {
	entity, point string
	from, to      time.Time
	every         time.Duration
	lastN         int // > 0: only the newest lastN windows, newest first
}

// parseHistory checks the parameters of a history request.
func (a *API) parseHistory(r *http.Request) (historyRequest, *paramError) {
	q := r.URL.Query()
	var h historyRequest
	h.entity = q.Get("entity")
	if h.entity == "" {
		return h, &paramError{"entity", "is required: the ID of a sensor site"}
	}
	h.point = q.Get("point")
	if why := checkName(h.point); why != "" {
		return h, &paramError{"point", quote(h.point) + " " + why}
	}
	h.to = a.cfg.Now()
	if s := q.Get("to"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return h, &paramError{"to", quote(s) + " is not an RFC 3339 time such as 2026-05-01T10:00:00Z"}
		}
		h.to = t
	}
	if err := checkHistoryTime("to", h.to); err != nil {
		return h, err
	}
	h.from = h.to.Add(-DefaultHistorySpan)
	if s := q.Get("from"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return h, &paramError{"from", quote(s) + " is not an RFC 3339 time such as 2026-05-01T09:00:00Z"}
		}
		h.from = t
	}
	if err := checkHistoryTime("from", h.from); err != nil {
		return h, err
	}
	if !h.from.Before(h.to) {
		return h, &paramError{"from", fmt.Sprintf("%s is not before to %s", h.from.Format(time.RFC3339), h.to.Format(time.RFC3339))}
	}
	h.every = DefaultHistoryEvery
	if s := q.Get("every"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return h, &paramError{"every", quote(s) + " is not a duration such as 30s, 5m or 1h"}
		}
		if d < time.Second || d%time.Second != 0 {
			return h, &paramError{"every", quote(s) + " must be a whole number of seconds, at least 1s"}
		}
		h.every = d
	}
	if n := h.to.Sub(h.from) / h.every; n > time.Duration(a.cfg.MaxHistoryPoints) {
		return h, &paramError{"every", fmt.Sprintf("%s over %s makes %d windows, more than %d: widen every or narrow from/to", h.every, h.to.Sub(h.from), n, a.cfg.MaxHistoryPoints)}
	}
	return h, nil
}

// handleHistory answers GET /api/v1/history.
func (a *API) handleHistory(w http.ResponseWriter, r *http.Request) {
	req, perr := a.parseHistory(r)
	if perr != nil {
		badParam(w, perr)
		return
	}
	e, ok := a.scoped(r).Entity(req.entity)
	if !ok {
		writeError(w, http.StatusNotFound, "entity", "no entity "+quote(req.entity))
		return
	}
	if e.Kind != twin.KindSite || e.Gateway == "" || e.Device == "" {
		writeError(w, http.StatusBadRequest, "entity", fmt.Sprintf("entity %s (kind %s) has no time series; ask for a sensor site", quote(e.ID), e.Kind))
		return
	}
	if a.cfg.History == nil {
		writeError(w, http.StatusNotImplemented, "", "no time-series store is configured for history")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.HistoryTimeout)
	defer cancel()
	unit, points, err := a.series(ctx, e, req)
	a.answerHistory(w, e, req, unit, points, err)
}

// series reads the history of attribute req.point of site e from
// Config.History: what /history and the NGSI-LD temporal API answer.
// With req.lastN, only the newest lastN windows, newest first: asked of
// the store when it is a LastNQuerier, else cut from the whole range (a
// traffic site's lane sum is always cut here).
func (a *API) series(ctx context.Context, e twin.Entity, req historyRequest) (string, []HistoryPoint, error) {
	if unit, points, ok, err := a.laneIntensity(ctx, e, req); ok {
		if req.lastN > 0 {
			points = lastNewestFirst(points, req.lastN)
		}
		return unit, points, err
	}
	// The map asks for the attribute it shows (power); the series is
	// stored under the profile's point (total_power).
	field, renamed := twin.SourcePoint(e.Category, req.point)
	if !renamed {
		field = req.point
	}
	var unit string
	var points []HistoryPoint
	var err error
	if ln, ok := a.cfg.History.(LastNQuerier); ok && req.lastN > 0 {
		unit, points, err = ln.HistoryLastN(ctx, e, field, req.from, req.to, req.every, req.lastN)
		points = points[:min(len(points), req.lastN)]
	} else {
		unit, points, err = a.cfg.History.History(ctx, e, field, req.from, req.to, req.every)
		if req.lastN > 0 {
			points = lastNewestFirst(points, req.lastN)
		}
	}
	if err == nil && unit == "" && !renamed { // a renamed attribute may be rescaled (% to a ratio)
		unit = e.Attrs[req.point].Unit
	}
	return unit, points, err
}

// answerHistory writes a history answer, or the store's error.
func (a *API) answerHistory(w http.ResponseWriter, e twin.Entity, req historyRequest, unit string, points []HistoryPoint, err error) {
	if errors.Is(err, ErrNoSeries) {
		writeError(w, http.StatusBadRequest, "entity", err.Error())
		return
	}
	if err != nil {
		a.cfg.Logger.Warn("history query failed", "entity", e.ID, "point", req.point, "err", err)
		writeError(w, http.StatusBadGateway, "", "read history of "+e.ID+" "+req.point+": "+err.Error())
		return
	}
	if points == nil {
		points = []HistoryPoint{}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, "application/json", historyAnswer{Entity: e.ID, Point: req.point, Unit: unit, Every: formatDuration(req.every), Points: points})
}

// formatDuration writes d without zero trailing units ("5m", "1h30m").
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
