package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// Indicator history (GET /api/v1/indicators/history) rebuilds an area's
// indicator over the last day or week from the sensors' series in
// InfluxDB, through the same HistoryQuerier as /history: hourly means per
// sensor, combined per hour as the twin combines the sensors' latest
// values (a sum, a mean, an energy mean). Only the sensors in the area now
// are counted, and an hour counts the sensors that reported in it. The
// twin's derived indicators (traffic intensity from per-interval lane
// counts, congestion, air-quality bands, energy over a window) have no
// series of their own to rebuild from and are refused with 400.
//
// Answers are cached per area, indicator and window for historyCacheTTL;
// concurrent misses of one key share one set of queries; at most
// maxHistorySites sensors are read for one answer.

// historyCacheTTL is how long a rebuilt history is served from memory.
const historyCacheTTL = 5 * time.Minute

// maxHistorySites bounds the series read for one answer.
const maxHistorySites = 50

// historyWindows are the windows a citizen can ask for, and the
// downsampling of each.
var historyWindows = map[string]struct{ span, every time.Duration }{
	"24h": {24 * time.Hour, time.Hour},
	"7d":  {7 * 24 * time.Hour, time.Hour},
}

// indicatorSeries says how an indicator is rebuilt: the sites' category,
// the attribute read (SourcePoint maps it to the stored point) and how the
// sensors' values of one hour combine.
type indicatorSeries struct {
	category wire.Category
	attr     string
	combine  func(vs []float64) float64
}

// historyRule returns the rule of an indicator, false when it has none.
func historyRule(name string) (indicatorSeries, bool) {
	switch name {
	case twin.IndNoiseLAeqMean:
		return indicatorSeries{wire.CategoryNoise, "LAeq", energyMean}, true
	case twin.IndParkingOccupancy:
		return indicatorSeries{wire.CategoryParking, "occupancy", mean}, true
	case twin.IndLightingPower:
		return indicatorSeries{wire.CategoryEnergy, "power", sum}, true
	}
	return indicatorSeries{}, false
}

// historyIndicators are the indicators historyRule knows, for messages.
func historyIndicators() []string {
	return []string{twin.IndNoiseLAeqMean, twin.IndParkingOccupancy, twin.IndLightingPower}
}

func sum(vs []float64) float64 {
	s := 0.0
	for _, v := range vs {
		s += v
	}
	return s
}

func mean(vs []float64) float64 { return sum(vs) / float64(len(vs)) }

// energyMean is 10*log10(mean(10^(v/10))), the mean of sound levels.
func energyMean(vs []float64) float64 {
	e := 0.0
	for _, v := range vs {
		e += math.Pow(10, v/10)
	}
	return 10 * math.Log10(e/float64(len(vs)))
}

// indicatorHistory is the body of /api/v1/indicators/history.
type indicatorHistory struct {
	Area      string         `json:"area"`
	Indicator string         `json:"indicator"`
	Window    string         `json:"window"`
	Every     string         `json:"every"`
	Unit      string         `json:"unit"`
	Sensors   int            `json:"sensors"`
	Points    []HistoryPoint `json:"points"`
	Licence   Licence        `json:"licence"`
}

// historyCache holds rebuilt histories by key, each until its expiry.
// Keys are bounded by areas x indicators x windows, all checked before a
// key is made. It is safe for concurrent use.
type historyCache struct {
	mu      sync.Mutex
	entries map[string]historyEntry
	group   singleflight.Group
}

type historyEntry struct {
	body    []byte
	expires time.Time
}

func newHistoryCache() *historyCache { return &historyCache{entries: map[string]historyEntry{}} }

// handleIndicatorHistory answers GET /api/v1/indicators/history.
func (a *API) handleIndicatorHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	areaID, name, window := q.Get("area"), q.Get("indicator"), q.Get("window")
	if window == "" {
		window = "24h"
	}
	win, ok := historyWindows[window]
	if !ok {
		badParam(w, &paramError{"window", quote(window) + " is not a window of the public history; want 24h or 7d"})
		return
	}
	rule, ok := historyRule(name)
	if !ok {
		badParam(w, &paramError{"indicator", quote(name) + " has no history; want one of " + strings.Join(historyIndicators(), ", ")})
		return
	}
	area, ok := a.reader.Entity(areaID)
	if areaID == "" || !ok || area.Kind != twin.KindArea {
		writeError(w, http.StatusNotFound, "area", "no area "+quote(areaID))
		return
	}
	if a.cfg.History == nil {
		writeError(w, http.StatusNotImplemented, "", "no time-series store is configured for history")
		return
	}
	key := areaID + "\x00" + name + "\x00" + window
	now := a.cfg.Now()
	a.hist.mu.Lock()
	e, hit := a.hist.entries[key]
	a.hist.mu.Unlock()
	if !hit || !now.Before(e.expires) {
		v, err, _ := a.hist.group.Do(key, func() (any, error) {
			return a.rebuildHistory(r.Context(), area, name, window, rule, win.span, win.every)
		})
		if err != nil {
			a.cfg.Logger.Warn("indicator history failed", "area", areaID, "indicator", name, "err", err)
			writeError(w, http.StatusBadGateway, "", "read the history of "+name+" in "+areaID+": "+err.Error())
			return
		}
		e = historyEntry{body: v.([]byte), expires: now.Add(historyCacheTTL)}
		a.hist.mu.Lock()
		for k, old := range a.hist.entries { // drop the expired ones
			if !now.Before(old.expires) {
				delete(a.hist.entries, k)
			}
		}
		a.hist.entries[key] = e
		a.hist.mu.Unlock()
	}
	a.servePublicCache(w, r, "application/json", e.body, historyCacheControl)
}

// rebuildHistory reads the hourly means of the area's sensors and
// combines them per hour.
func (a *API) rebuildHistory(ctx context.Context, area twin.Entity, name, window string, rule indicatorSeries, span, every time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.HistoryTimeout)
	defer cancel()
	to := a.cfg.Now().Truncate(every).Add(every) // the current hour, partial
	from := to.Add(-span)
	var sites []twin.Entity
	for _, e := range a.reader.Entities(twin.Filter{Types: []string{string(twin.KindSite)}}) {
		if e.Area == area.ID && e.Category == rule.category && e.Gateway != "" && e.Device != "" {
			sites = append(sites, e)
		}
	}
	sites = sites[:min(len(sites), maxHistorySites)]
	field, renamed := twin.SourcePoint(rule.category, rule.attr)
	if !renamed {
		field = rule.attr
	}
	byTime := map[time.Time][]float64{}
	for _, s := range sites {
		_, pts, err := a.cfg.History.History(ctx, s, field, from, to, every)
		if errors.Is(err, ErrNoSeries) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, p := range pts {
			byTime[p.Time] = append(byTime[p.Time], p.Value)
		}
	}
	points := make([]HistoryPoint, 0, len(byTime))
	for t, vs := range byTime {
		points = append(points, HistoryPoint{Time: t, Value: round6(rule.combine(vs))})
	}
	sort.Slice(points, func(i, j int) bool { return points[i].Time.Before(points[j].Time) })
	unit := ""
	if i := slices.IndexFunc(twin.IndicatorDefinitions("en"), func(d twin.IndicatorDefinition) bool { return d.Name == name }); i >= 0 {
		unit = twin.IndicatorDefinitions("en")[i].Unit
	}
	b, err := json.Marshal(indicatorHistory{Area: area.ID, Indicator: name, Window: window, Every: formatDuration(every), Unit: unit,
		Sensors: len(sites), Points: points, Licence: a.cfg.Public.Licence})
	if err != nil {
		return nil, fmt.Errorf("encode history: %w", err)
	}
	return append(b, '\n'), nil
}

// round6 rounds to six decimals, as the twin's indicators are.
func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }
