package api

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-city/ponte/internal/influxschema"
	"github.com/ponte-city/ponte/twin"
)

// Boolean points (a parking spot's occupied, a heater's on) have no mean
// in InfluxQL 1.8: mean() of a boolean field fails with "unsupported mean
// iterator type: *query.booleanInterruptIterator", and a boolean cannot be
// cast to a number. Their history is the share of time they were true:
// per window, the readings that were true over all readings, as two
// count() statements in one request (a WHERE on a boolean field value
// is allowed). With readings at a steady interval, the share of readings
// is the share of time. History tries mean() first and falls back to this
// on that error, so a numeric point costs one query as before.

// isBooleanMeanError says whether err is InfluxDB refusing mean() of a
// boolean field.
func isBooleanMeanError(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unsupported mean iterator type") &&
		strings.Contains(strings.ToLower(err.Error()), "boolean")
}

// BooleanQuery returns the two InfluxQL statements of a boolean point's
// history: all readings per window, then the true ones.
func (h *InfluxHistory) BooleanQuery(e twin.Entity, point string, from, to time.Time, every time.Duration) string {
	return h.booleanQuery(e, point, from, to, every, 0)
}

// booleanQuery is BooleanQuery, with the newest n windows of each
// statement only when n > 0: a window among the newest n with readings
// that has true ones is among the newest n with true ones, so the share
// of each is still whole.
func (h *InfluxHistory) booleanQuery(e twin.Entity, point string, from, to time.Time, every time.Duration, n int) string {
	src := ident(influxschema.Measurement(e.Category, h.fallback))
	if h.rp != "" {
		src = ident(h.db) + "." + ident(h.rp) + "." + src
	}
	f := ident(influxschema.ValueField(point))
	where := " WHERE " + ident(influxschema.TagGateway) + "=" + str(e.Gateway) +
		" AND " + ident(influxschema.TagDevice) + "=" + str(e.Device) +
		" AND time >= " + strconv.FormatInt(from.UnixNano(), 10) +
		" AND time < " + strconv.FormatInt(to.UnixNano(), 10)
	group := " GROUP BY time(" + durationLit(every) + ") fill(none)" + lastN(n)
	return "SELECT count(" + f + ") FROM " + src + where + group +
		"; SELECT count(" + f + ") FROM " + src + where + " AND " + f + " = true" + group
}

// booleanShare returns the share of true readings per window, 0..1; the
// newest n windows, newest first, when n > 0.
func (h *InfluxHistory) booleanShare(ctx context.Context, e twin.Entity, point string, from, to time.Time, every time.Duration, n int) ([]HistoryPoint, error) {
	results, err := h.run(ctx, h.booleanQuery(e, point, from, to, every, n))
	if err != nil {
		return nil, fmt.Errorf("query influxdb for %s %s (boolean, share of time true): %w", e.ID, point, err)
	}
	if len(results) != 2 {
		return nil, fmt.Errorf("query influxdb for %s %s (boolean): %d answers to 2 statements", e.ID, point, len(results))
	}
	trues := make(map[time.Time]float64, len(results[1]))
	for _, p := range results[1] {
		trues[p.Time] = p.Value
	}
	points := make([]HistoryPoint, 0, len(results[0]))
	for _, p := range results[0] {
		if p.Value <= 0 {
			continue
		}
		points = append(points, HistoryPoint{Time: p.Time, Value: trues[p.Time] / p.Value})
	}
	return points, nil
}
