package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/simplify"

	"github.com/ponte-city/ponte/twin"
)

// areaTolerance is the Douglas-Peucker tolerance, in degrees, of the
// public area shapes: about 50 m, invisible at the zoom of a choropleth of
// municipalities and a tenth of the bytes.
const areaTolerance = 0.0005

// areaShapes holds the public areas GeoJSON, computed once: areas do not
// move while ingest runs.
type areaShapes struct {
	once sync.Once
	body []byte
}

// handleAreas answers GET /api/v1/areas.geojson: the areas' simplified
// shapes with their IDs, names and levels (city, municipality, district),
// public like the indicators, so that a
// participation dashboard can draw a choropleth without an operator token.
// It carries no live data.
func (a *API) handleAreas(w http.ResponseWriter, r *http.Request) {
	a.areas.once.Do(func() {
		a.areas.body = areasGeoJSON(a.reader.Entities(twin.Filter{Types: []string{string(twin.KindArea)}}), a.cfg.Public.Licence)
	})
	a.servePublic(w, r, "application/geo+json", a.areas.body)
}

// areasGeoJSON renders the areas as a FeatureCollection with the licence
// as a foreign member (RFC 7946 6.1).
func areasGeoJSON(areas []twin.Entity, lic Licence) []byte {
	dp := simplify.DouglasPeucker(areaTolerance)
	return featureCollection(lic, len(areas), func(out []byte, i int) []byte {
		e := areas[i]
		id, _ := json.Marshal(e.ID)
		name, _ := json.Marshal(e.Name)
		out = append(out, `{"type":"Feature","id":`...)
		out = append(out, id...)
		out = append(out, `,"geometry":`...)
		g := e.Geometry
		if g != nil {
			g = dp.Simplify(orb.Clone(g)) // Simplify works in place
		}
		out = appendGeometry(out, g)
		out = append(out, `,"properties":{"name":`...)
		out = append(out, name...)
		out = append(out, `,"level":`...)
		out = strconv.AppendQuote(out, entityLevel(e))
		return append(out, `}}`...)
	})
}
