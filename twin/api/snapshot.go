package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/ponte-city/ponte/internal/influxschema"
	"github.com/ponte-city/ponte/twin"
)

// Time travel: GET /api/v1/snapshot?at=<RFC 3339>[&window=15m] answers
// what the sites showed at a past moment, from the time-series store:
// for every site, the latest value of each of its points written in
// (at-window, at], with its time, and the site's freshness then: fresh
// when its newest value is at most window/3 old at that moment (the
// twin's default stale factor of 3 over a window of three intervals),
// stale when older, offline when it has none in the window. The map's
// time slider replays a past window by asking for one minute after
// another.
//
// Points keep their profile names (lane1_intensity, no2) except those the
// twin renames one to one (humidity is relativeHumidity, total_power is
// power: twin.SourcePoint), so that the popup reads the same names as
// live; a humidity in % becomes a ratio as the live attribute is. Values
// the twin derives from several points (a traffic site's intensity summed
// over lanes, the air-quality index) are not recomputed for the past.

// Bounds of a snapshot's window.
const (
	DefaultSnapshotWindow = 15 * time.Minute
	maxSnapshotWindow     = 24 * time.Hour
)

// TimedValue is one point's latest value at a snapshot's moment.
type TimedValue struct {
	// Value is a float64, bool or string, as InfluxDB returned it.
	Value any
	Time  time.Time
}

// SeriesLast is the latest values of one device's series.
type SeriesLast struct {
	Measurement, Gateway, Device string
	// Values by InfluxDB field (the profile's point name).
	Values map[string]TimedValue
}

// SnapshotQuerier reads the latest value of every point of every device
// in (at-window, at]. A HistoryQuerier that also implements it (as
// InfluxHistory does) serves /api/v1/snapshot.
type SnapshotQuerier interface {
	Snapshot(ctx context.Context, at time.Time, window time.Duration) ([]SeriesLast, error)
}

// snapshotAttr is one value of a site in a snapshot answer.
type snapshotAttr struct {
	Value      any       `json:"value"`
	Unit       string    `json:"unit,omitempty"`
	ObservedAt time.Time `json:"observedAt"`
}

// snapshotSite is one site in a snapshot answer.
type snapshotSite struct {
	ID        string                  `json:"id"`
	Freshness twin.Freshness          `json:"freshness"`
	Updated   time.Time               `json:"updated,omitzero"`
	Attrs     map[string]snapshotAttr `json:"attrs"`
	// raw are its values by InfluxDB field, for the indicators.
	raw map[string]TimedValue
}

// snapshotAnswer is the body of /api/v1/snapshot.
type snapshotAnswer struct {
	At     time.Time      `json:"at"`
	Window string         `json:"window"`
	Sites  []snapshotSite `json:"sites"`
	// Indicators are the areas' and the city's at that moment, when the
	// twin computes them (snapshot_indicators.go).
	Indicators *twin.Indicators `json:"indicators,omitempty"`
}

// parseSnapshot checks at and window.
func (a *API) parseSnapshot(r *http.Request) (time.Time, time.Duration, *paramError) {
	q := r.URL.Query()
	s := q.Get("at")
	if s == "" {
		return time.Time{}, 0, &paramError{"at", "is required: an RFC 3339 time such as 2026-05-01T10:00:00Z"}
	}
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, 0, &paramError{"at", quote(s) + " is not an RFC 3339 time such as 2026-05-01T10:00:00Z"}
	}
	if perr := checkHistoryTime("at", at); perr != nil {
		return time.Time{}, 0, perr
	}
	window := DefaultSnapshotWindow
	if s := q.Get("window"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second || d > maxSnapshotWindow {
			return time.Time{}, 0, &paramError{"window", quote(s) + " is not a duration from 1s to 24h such as 15m"}
		}
		window = d
	}
	if perr := checkHistoryTime("at", at.Add(-window)); perr != nil {
		return time.Time{}, 0, perr
	}
	return at, window, nil
}

// handleSnapshot answers GET /api/v1/snapshot.
func (a *API) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	at, window, perr := a.parseSnapshot(r)
	if perr != nil {
		badParam(w, perr)
		return
	}
	sq, ok := a.cfg.History.(SnapshotQuerier)
	if !ok {
		writeError(w, http.StatusNotImplemented, "", "no time-series store that can answer snapshots is configured")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.HistoryTimeout)
	defer cancel()
	series, err := sq.Snapshot(ctx, at, window)
	if err != nil {
		a.cfg.Logger.Warn("snapshot query failed", "at", at, "err", err)
		writeError(w, http.StatusBadGateway, "", "read the snapshot at "+at.Format(time.RFC3339)+": "+err.Error())
		return
	}
	ans := snapshotAnswer{At: at.UTC(), Window: formatDuration(window),
		Sites: snapshotSites(a.scoped(r).Entities(twin.Filter{Types: []string{string(twin.KindSite)}}), series, at, window, a.fallbackMeasurement())}
	ans.Indicators = a.snapshotIndicators(at, ans.Sites)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, "application/json", ans)
}

// fallbackMeasurement is the measurement of sites without a category.
func (a *API) fallbackMeasurement() string {
	if h, ok := a.cfg.History.(*InfluxHistory); ok {
		return h.fallback
	}
	return ""
}

// snapshotSites matches the series to the sites and names their values.
func snapshotSites(sites []twin.Entity, series []SeriesLast, at time.Time, window time.Duration, fallback string) []snapshotSite {
	type key struct{ m, g, d string }
	byKey := make(map[key]SeriesLast, len(series))
	for _, s := range series {
		byKey[key{s.Measurement, s.Gateway, s.Device}] = s
	}
	out := make([]snapshotSite, 0, len(sites))
	for _, e := range sites {
		if e.Kind != twin.KindSite || e.Gateway == "" || e.Device == "" {
			continue
		}
		s := byKey[key{influxschema.Measurement(e.Category, fallback), e.Gateway, e.Device}]
		site := snapshotSite{ID: e.ID, Freshness: twin.Offline, Attrs: map[string]snapshotAttr{}, raw: s.Values}
		// The attributes that are one point under another name.
		renamed := map[string]string{}
		for attr := range e.Attrs {
			if p, ok := twin.SourcePoint(e.Category, attr); ok {
				renamed[p] = attr
			}
		}
		for field, v := range s.Values {
			name := field
			if attr, ok := renamed[field]; ok {
				name = attr
			}
			unit := e.Attrs[name].Unit
			val := v.Value
			if f, isNum := val.(float64); isNum && name != field && name == "relativeHumidity" && unit == "1" {
				val = f / 100 // stored in %, shown live as a ratio
			}
			site.Attrs[name] = snapshotAttr{Value: val, Unit: unit, ObservedAt: v.Time}
			if v.Time.After(site.Updated) {
				site.Updated = v.Time
			}
		}
		switch age := at.Sub(site.Updated); {
		case site.Updated.IsZero():
		case age <= window/3:
			site.Freshness = twin.Fresh
		default:
			site.Freshness = twin.Stale
		}
		out = append(out, site)
	}
	return out
}

// SnapshotQuery returns the InfluxQL statement Snapshot sends: the newest
// rows of every device of every measurement in (at-window, at], at most
// snapshotRows per device.
func (h *InfluxHistory) SnapshotQuery(at time.Time, window time.Duration) string {
	src := "/.*/"
	if h.rp != "" {
		src = ident(h.db) + "." + ident(h.rp) + "." + src
	}
	return fmt.Sprintf("SELECT * FROM %s WHERE time > %d AND time <= %d GROUP BY %s, %s ORDER BY time DESC LIMIT %d",
		src, at.Add(-window).UnixNano(), at.UnixNano(), ident(influxschema.TagGateway), ident(influxschema.TagDevice), snapshotRows)
}

// snapshotRows bounds the rows read per device: a device whose points
// are written at that many different times within the window may miss
// its rarest points in the snapshot.
const snapshotRows = 200

// Snapshot implements SnapshotQuerier.
func (h *InfluxHistory) Snapshot(ctx context.Context, at time.Time, window time.Duration) ([]SeriesLast, error) {
	body, status, err := h.get(ctx, h.SnapshotQuery(at, window))
	if err != nil {
		return nil, fmt.Errorf("query influxdb for the snapshot: %w", err)
	}
	return parseSnapshotAnswer(status, body)
}

// snapshotAnswerJSON is InfluxDB's answer to SnapshotQuery.
type snapshotAnswerJSON struct {
	Results []struct {
		Series []struct {
			Name    string            `json:"name"`
			Tags    map[string]string `json:"tags"`
			Columns []string          `json:"columns"`
			Values  [][]any           `json:"values"`
		} `json:"series"`
		Error string `json:"error"`
	} `json:"results"`
	Error string `json:"error"`
}

// tagColumns are the tag keys SELECT * returns as columns, which are not
// points.
var tagColumns = map[string]bool{influxschema.TagArea: true, influxschema.TagDevice: true, influxschema.TagGateway: true, influxschema.TagType: true, "time": true}

// parseSnapshotAnswer reads, per series, the first non-null value of each
// field from rows sorted newest first.
func parseSnapshotAnswer(status int, body []byte) ([]SeriesLast, error) {
	var ans snapshotAnswerJSON
	if err := decodeNumbers(body, &ans); err != nil {
		return nil, fmt.Errorf("status %d, answer %q is not InfluxDB's JSON: %w", status, clip(string(body)), err)
	}
	if ans.Error != "" || status != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", status, firstNonEmpty(ans.Error, clip(string(body))))
	}
	var out []SeriesLast
	for _, r := range ans.Results {
		if r.Error != "" {
			return nil, errors.New("influxdb: " + r.Error)
		}
		for _, s := range r.Series {
			sl := SeriesLast{Measurement: s.Name, Gateway: s.Tags[influxschema.TagGateway], Device: s.Tags[influxschema.TagDevice], Values: map[string]TimedValue{}}
			timeCol := -1
			for i, c := range s.Columns {
				if c == "time" {
					timeCol = i
				}
			}
			if timeCol < 0 {
				continue
			}
			for _, row := range s.Values {
				if len(row) != len(s.Columns) {
					continue
				}
				t, ok := nsTime(row[timeCol])
				if !ok {
					continue
				}
				for i, c := range s.Columns {
					if tagColumns[c] || strings.HasSuffix(c, influxschema.QualitySuffix) || row[i] == nil {
						continue
					}
					if _, seen := sl.Values[c]; seen {
						continue
					}
					sl.Values[c] = TimedValue{Value: jsonValue(row[i]), Time: t}
				}
			}
			out = append(out, sl)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Measurement != b.Measurement {
			return a.Measurement < b.Measurement
		}
		if a.Gateway != b.Gateway {
			return a.Gateway < b.Gateway
		}
		return a.Device < b.Device
	})
	return out, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
