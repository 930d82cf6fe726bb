package api

import (
	"time"

	"github.com/ponte-city/ponte/twin"
)

// The snapshot's indicators: what the areas' colours were at the moment
// the map's time slider shows. They are computed by the twin
// (twin.PastIndicators: its own indicator code, over the snapshot's
// values of the sites fresh then), so the map repaints the areas from the
// same definitions as live. A Reader that does not compute them (a test's
// fake) leaves them out of the answer.

// snapshotIndicators returns the indicators at at from the snapshot's
// sites, or nil when the twin does not compute past indicators.
func (a *API) snapshotIndicators(at time.Time, sites []snapshotSite) *twin.Indicators {
	pi, ok := a.reader.(twin.PastIndicators)
	if !ok {
		return nil
	}
	past := make([]twin.PastSite, 0, len(sites))
	for _, s := range sites {
		ps := twin.PastSite{ID: s.ID, Fresh: s.Freshness == twin.Fresh, Points: make(map[string]twin.PastPoint, len(s.raw))}
		for field, v := range s.raw {
			ps.Points[field] = twin.PastPoint{Value: v.Value, Time: v.Time}
		}
		past = append(past, ps)
	}
	inds := pi.IndicatorsAt(at.UTC(), past)
	return &inds
}
