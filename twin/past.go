package twin

import (
	"time"

	"github.com/ponte-city/ponte/wire"
)

// The indicators of a past moment, for the map's time travel: the API's
// snapshot (GET /api/v1/snapshot) reads every site's latest values at that
// moment from the time-series store, and IndicatorsAt turns them into the
// indicators of every area and the city with the code the live ones use:
// the points become attributes as live readings do (deriveAttrs: lanes
// summed, the EAQI band, parking occupancy), each fresh site's
// contribution (contribOf) is added to the sums of its areas and the city
// (agg), and the sums are rendered as live (agg.indicators). So a past
// indicator cannot drift from its definition.
//
// What the store does not keep is taken from the twin as it is now: a
// point's unit (InfluxDB keeps values, not units; a lane counter's unit
// decides its hourly rate) is the one its latest live reading carried
// (none after a restart before the site reported: a count is then taken
// per the site's interval), and a site's areas are the ones it lies in
// now. The street-lighting energy over a window is not rebuilt for the
// past (it needs the counter's readings across the window): it has no
// value in a past answer.

// PastPoint is one point's latest value at a past moment.
type PastPoint struct {
	// Value is a float64, int64, bool or string.
	Value any
	Time  time.Time
}

// PastSite is one site's values at a past moment.
type PastSite struct {
	// ID is the site's entity ID.
	ID string
	// Fresh says whether the site counted as fresh at that moment; only
	// fresh sites contribute, as live.
	Fresh bool
	// Points are its latest values by profile point name (the InfluxDB
	// field), not by attribute name.
	Points map[string]PastPoint
}

// PastIndicators is what computes indicators for a past moment; *Twin
// implements it. The API serves the snapshot's indicators when its Reader
// does.
type PastIndicators interface {
	// IndicatorsAt returns the indicators of every area and the city at
	// moment at from the sites' values then. Sites it does not know are
	// ignored; Definition is left empty (the indicators' answer gives the
	// definitions).
	IndicatorsAt(at time.Time, sites []PastSite) Indicators
}

var _ PastIndicators = (*Twin)(nil)

// IndicatorsAt implements PastIndicators.
func (t *Twin) IndicatorsAt(at time.Time, sites []PastSite) Indicators {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var city agg
	areas := make(map[*node]*agg, len(t.areas))
	for _, s := range sites {
		n, ok := t.byID[s.ID]
		if !ok || n.site == nil || !s.Fresh {
			continue
		}
		pts := make(map[string]point, len(s.Points))
		for name, p := range s.Points {
			v, ok := pastValue(p.Value)
			if !ok {
				continue
			}
			pts[name] = point{value: v, unit: n.points[name].unit, time: p.Time}
		}
		c := contribOf(n.site.Category, true, deriveAttrs(n.site.Category, n.site.Interval, pts), 0, false)
		city.add(c, 1)
		for _, a := range n.areas {
			if areas[a] == nil {
				areas[a] = &agg{}
			}
			areas[a].add(c, 1)
		}
	}
	render := func(a *agg) []Indicator {
		a.updated = at
		inds := a.indicators(t.window)
		for i := range inds {
			inds[i].Definition = ""
			if inds[i].Name == IndLightingEnergy {
				inds[i].Value, inds[i].Sensors = nil, 0
			}
		}
		return inds
	}
	out := Indicators{Generated: at, City: render(&city), Areas: make([]AreaIndicators, len(t.areas))}
	for i, a := range t.areas {
		g := areas[a]
		if g == nil {
			g = &agg{}
		}
		out.Areas[i] = AreaIndicators{ID: a.snap.ID, Name: a.snap.Name, Level: t.areaLevel[a], Indicators: render(g)}
	}
	return out
}

// pastValue makes a wire value of a value read back from the store.
func pastValue(v any) (wire.Value, bool) {
	switch x := v.(type) {
	case float64:
		return wire.Float(x), true
	case int64:
		return wire.Int(x), true
	case int:
		return wire.Int(int64(x)), true
	case bool:
		return wire.Bool(x), true
	case string:
		return wire.String(x), true
	}
	return wire.Value{}, false
}
