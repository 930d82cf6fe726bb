package api

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/ponte-city/ponte/twin"
)

// sitesMaxAge is how long the public sites GeoJSON is reused before it is
// rendered again: the public Cache-Control's max-age, so a client that
// obeys it sees each freshness change as soon as it could.
const sitesMaxAge = 10 * time.Second

// siteShapes holds the public sites GeoJSON. Unlike the areas', it
// changes while ingest runs (a site turns stale, a gateway enrols a
// device), so it is rendered again once sitesMaxAge has passed, whatever
// the number of clients asking.
type siteShapes struct {
	mu   sync.Mutex
	at   time.Time
	body []byte
}

// publicSite is one site's properties in the public sites GeoJSON: what a
// reuser needs to place and describe a sensor, and nothing an operator's
// token guards (no values, no gateway or device fields). The feature's ID
// is the entity's: the site config's entity ID, or, when it gives none,
// one made of the type, gateway and device IDs (which are names, not
// credentials; give sites an entity ID to publish other IDs).
type publicSite struct {
	Type      string         `json:"type"`
	Name      string         `json:"name"`
	Area      string         `json:"area"`
	Category  string         `json:"category"`
	Freshness twin.Freshness `json:"freshness"`
}

// handleSites answers GET /api/v1/sites.geojson: the sensor sites as
// points with their type, name, area, category and freshness, public like
// the areas so that an open-data portal can publish the network (the
// "sensori" dataset of the DCAT-AP_IT catalogue points here).
func (a *API) handleSites(w http.ResponseWriter, r *http.Request) {
	a.servePublic(w, r, "application/geo+json", a.sitesBody())
}

// sitesBody returns the sites GeoJSON, rendered at most once per
// sitesMaxAge.
func (a *API) sitesBody() []byte {
	a.sites.mu.Lock()
	defer a.sites.mu.Unlock()
	now := a.cfg.Now()
	if a.sites.body == nil || now.Sub(a.sites.at) >= sitesMaxAge || now.Before(a.sites.at) {
		a.sites.body = sitesGeoJSON(a.reader.Entities(twin.Filter{Types: []string{string(twin.KindSite)}}), a.cfg.Public.Licence)
		a.sites.at = now
	}
	return a.sites.body
}

// sitesGeoJSON renders the sites as a FeatureCollection with the licence
// as a foreign member (RFC 7946 6.1), as areasGeoJSON does.
func sitesGeoJSON(sites []twin.Entity, lic Licence) []byte {
	return featureCollection(lic, len(sites), func(out []byte, i int) []byte {
		e := sites[i]
		id, _ := json.Marshal(e.ID)
		fresh := e.Freshness
		if fresh == "" {
			fresh = twin.Unknown
		}
		props, _ := json.Marshal(publicSite{Type: e.Type, Name: e.Name, Area: e.Area, Category: string(e.Category), Freshness: fresh})
		out = append(out, `{"type":"Feature","id":`...)
		out = append(out, id...)
		out = append(out, `,"geometry":`...)
		out = appendGeometry(out, e.Geometry)
		out = append(out, `,"properties":`...)
		out = append(out, props...)
		return append(out, '}')
	})
}

// featureCollection renders a FeatureCollection of n features, each
// appended by feature, with the licence as a foreign member (RFC 7946
// 6.1): the public GeoJSON answers' common frame.
func featureCollection(lic Licence, n int, feature func(out []byte, i int) []byte) []byte {
	l, _ := json.Marshal(lic)
	out := []byte(`{"type":"FeatureCollection","licence":`)
	out = append(out, l...)
	out = append(out, `,"features":[`...)
	for i := range n {
		if i > 0 {
			out = append(out, ',')
		}
		out = feature(out, i)
	}
	return append(out, "]}\n"...)
}
