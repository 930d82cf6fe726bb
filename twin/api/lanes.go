package api

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/ponte-city/ponte/internal/influxschema"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// A traffic site's intensity is the sum of its lanes' counts (twin's
// mapping.go): it has no series of its own, so its history is summed
// from the lanes' series, in the store (InfluxQL: the mean of every
// laneN_intensity field per window, added up per window), and turned
// into vehicles per hour with the factor the twin knows from the lanes'
// unit and the site's interval.

// LaneSummer is a HistoryQuerier that can also sum a measure over a
// traffic site's lanes (InfluxHistory can).
type LaneSummer interface {
	// LaneSum returns, per window of every in [from, to), the sum over
	// the site's lanes of each lane's mean of laneN_<measure>, in the
	// lanes' own unit, oldest first, windows without data left out.
	LaneSum(ctx context.Context, e twin.Entity, measure string, from, to time.Time, every time.Duration) ([]HistoryPoint, error)
}

// intensityRater is what a Reader may know of a traffic site's lanes
// (*twin.Twin does).
type intensityRater interface {
	IntensityPerHour(id string) (float64, bool)
}

// laneIntensity answers the history of a traffic site's intensity: the
// lanes' sum in vehicles per hour ("1/h"), or, when the reader cannot
// tell the lanes' unit, in the lanes' unit (""). ok is false when the
// store cannot sum lanes, and the point is then read as any other.
func (a *API) laneIntensity(ctx context.Context, e twin.Entity, req historyRequest) (unit string, points []HistoryPoint, ok bool, err error) {
	ls, can := a.cfg.History.(LaneSummer)
	if !can || e.Category != wire.CategoryTraffic || req.point != "intensity" {
		return "", nil, false, nil
	}
	points, err = ls.LaneSum(ctx, e, "intensity", req.from, req.to, req.every)
	if err != nil {
		return "", nil, true, err
	}
	r, known := a.reader.(intensityRater)
	if !known {
		return "", points, true, nil
	}
	f, known := r.IntensityPerHour(e.ID)
	if !known {
		return "", points, true, nil
	}
	for i := range points {
		points[i].Value *= f
	}
	return "1/h", points, true, nil
}

// LaneQuery returns the InfluxQL statement LaneSum sends: the mean of
// every field laneN_<measure> per window.
func (h *InfluxHistory) LaneQuery(e twin.Entity, measure string, from, to time.Time, every time.Duration) string {
	src := ident(influxschema.Measurement(e.Category, h.fallback))
	if h.rp != "" {
		src = ident(h.db) + "." + ident(h.rp) + "." + src
	}
	return "SELECT mean(/^lane[0-9]+_" + regexSafe(measure) + "$/) FROM " + src +
		" WHERE " + ident(influxschema.TagGateway) + "=" + str(e.Gateway) +
		" AND " + ident(influxschema.TagDevice) + "=" + str(e.Device) +
		" AND time >= " + strconv.FormatInt(from.UnixNano(), 10) +
		" AND time < " + strconv.FormatInt(to.UnixNano(), 10) +
		" GROUP BY time(" + durationLit(every) + ") fill(none)"
}

// regexSafe keeps the letters, digits and underscores of a measure name,
// the only characters lane measures have, so it cannot end the regex.
func regexSafe(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			out = append(out, c)
		}
	}
	return string(out)
}

// LaneSum implements LaneSummer.
func (h *InfluxHistory) LaneSum(ctx context.Context, e twin.Entity, measure string, from, to time.Time, every time.Duration) ([]HistoryPoint, error) {
	if e.Gateway == "" || e.Device == "" {
		return nil, fmt.Errorf("query lanes of %s: %w", e.ID, ErrNoSeries)
	}
	if every <= 0 {
		return nil, fmt.Errorf("query lanes of %s: every %v, want > 0", e.ID, every)
	}
	body, status, err := h.get(ctx, h.LaneQuery(e, measure, from, to, every))
	if err != nil {
		return nil, fmt.Errorf("query influxdb for the lanes of %s: %w", e.ID, err)
	}
	points, err := sumColumns(status, body)
	if err != nil {
		return nil, fmt.Errorf("query influxdb for the lanes of %s: %w", e.ID, err)
	}
	return points, nil
}

// sumColumns reads a /query answer of one statement whose rows are a time
// and several means (one per lane, null where a lane had no data) and
// adds the means of each row up.
func sumColumns(status int, body []byte) ([]HistoryPoint, error) {
	var ans influxAnswer
	if err := decodeNumbers(body, &ans); err != nil {
		return nil, fmt.Errorf("status %d, answer %q is not InfluxDB's JSON: %w", status, clip(string(body)), err)
	}
	if ans.Error != "" {
		return nil, fmt.Errorf("status %d: %s", status, ans.Error)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", status, clip(string(body)))
	}
	points := []HistoryPoint{}
	for _, r := range ans.Results {
		if r.Error != "" {
			return nil, fmt.Errorf("influxdb: %s", r.Error)
		}
		for _, s := range r.Series {
			for _, row := range s.Values {
				if len(row) < 2 {
					continue
				}
				ns, err := row[0].Int64()
				if err != nil {
					return nil, fmt.Errorf("time %q is not nanoseconds", row[0])
				}
				sum, seen := 0.0, false
				for _, c := range row[1:] {
					if c == "" {
						continue // this lane had no data in the window
					}
					v, err := c.Float64()
					if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
						return nil, fmt.Errorf("mean %q is not a number", c)
					}
					sum, seen = sum+v, true
				}
				if seen {
					points = append(points, HistoryPoint{Time: time.Unix(0, ns).UTC(), Value: sum})
				}
			}
		}
	}
	return points, nil
}
