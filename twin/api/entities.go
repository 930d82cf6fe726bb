package api

import (
	"net/http"

	"github.com/ponte-city/ponte/twin"
)

// geoJSON is the media type of GeoJSON answers (RFC 7946).
const geoJSON = "application/geo+json"

// handleEntities answers GET /api/v1/entities with a FeatureCollection.
func (a *API) handleEntities(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		badParam(w, err.(*paramError))
		return
	}
	ents := a.reader.Entities(f)
	areas := indicatorLookup(a.reader)
	buf := make([]byte, 0, 256*len(ents)+64)
	buf = append(buf, `{"type":"FeatureCollection","features":[`...)
	for i, e := range ents {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, marshalFeature(e, areas)...)
	}
	buf = append(buf, "]}\n"...)
	h := w.Header()
	h.Set("Content-Type", geoJSON)
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(buf)
}

// handleEntity answers GET /api/v1/entities/{id} with one Feature.
func (a *API) handleEntity(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	e, ok := a.reader.Entity(id)
	if !ok {
		writeError(w, http.StatusNotFound, "id", "no entity "+quote(id))
		return
	}
	var areas areaLookup
	if e.Kind == twin.KindArea {
		areas = indicatorLookup(a.reader)
	}
	h := w.Header()
	h.Set("Content-Type", geoJSON)
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(append(marshalFeature(e, areas), '\n'))
}
