package web_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/ponte-city/ponte/geo"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/sitetiles"
)

// testToken is the operator token the fake API accepts.
const testToken = "test-token-0123"

// fakeAPI implements the part of the twin HTTP API contract the pages
// call (see twin/api), over fixed data the test controls, with a stream
// the test injects changes into.
type fakeAPI struct {
	t          testing.TB
	areas      []twin.Entity
	roads      []twin.Entity
	sites      []twin.Entity
	gateways   []twin.Entity // none unless a test adds them
	indicators twin.Indicators
	// publicShapes serves GET /api/v1/areas.geojson when true.
	publicShapes bool
	// real, if set, answers /snapshot and /history (twin/api over a real InfluxDB).
	real http.Handler
	// streamURLs are the stream URLs the page opened.
	streamURLs []string
	// tiles counts the sites' tiles served, tileBytes their bytes,
	// tileTime the time spent cutting them; lastTile is when the last
	// was served (Unix nanoseconds).
	tiles, tileBytes, tileTime, lastTile atomic.Int64
	// lastTileQuery is the query of the last tile asked (a string).
	lastTileQuery atomic.Value

	mu        sync.Mutex
	tickets   map[string]bool
	clients   map[chan string]struct{}
	seq       uint64
	connected chan struct{} // a value per stream connection
	done      chan struct{} // closed to end streams before the server closes
}

// areaNames are the municipalities the fake twin holds (ISTAT shapes).
var areaNames = []string{"Firenze", "Fiesole", "Sesto Fiorentino", "Bagno a Ripoli", "Scandicci"}

// newFakeAPI builds the fake twin: five Firenze-area municipalities from
// geo/data, the seven Firenze road fixtures and nSites sites on a grid in
// central Firenze, with indicators per area.
func newFakeAPI(t testing.TB, nSites int) *fakeAPI {
	t.Helper()
	layer, err := geo.LoadLayer("../../geo/data/firenze-metro-municipalities.geojson", geo.KindAreas, geo.LoadOptions{IDProperty: "com_istat_code"})
	if err != nil {
		t.Fatal(err)
	}
	roads, err := geo.LoadLayer("../../geo/testdata/roads.geojson", geo.KindRoads, geo.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	locate, err := geo.NewAreas(layer)
	if err != nil {
		t.Fatal(err)
	}
	near, err := geo.NewRoads(roads)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	a := &fakeAPI{t: t, clients: map[chan string]struct{}{}, connected: make(chan struct{}, 16), done: make(chan struct{}), publicShapes: true}
	for _, name := range areaNames {
		for _, f := range layer.Features {
			if f.Name == name {
				a.areas = append(a.areas, twin.Entity{ID: f.ID, Type: "AdministrativeArea", Kind: twin.KindArea, Name: f.Name, Geometry: f.Geometry, Freshness: twin.Fresh})
			}
		}
	}
	if len(a.areas) != len(areaNames) {
		t.Fatalf("found %d of the areas %v in geo/data", len(a.areas), areaNames)
	}
	for i, f := range roads.Features {
		if !strings.HasPrefix(f.ID, "FI-") {
			continue
		}
		a.roads = append(a.roads, twin.Entity{ID: f.ID, Type: "RoadSegment", Kind: twin.KindRoad, Name: f.Name, Geometry: f.Geometry,
			Attrs: map[string]twin.Attr{"congested": {Value: i%3 == 0, ObservedAt: now}}, Updated: now, Freshness: twin.Fresh})
	}
	freshness := []twin.Freshness{twin.Fresh, twin.Fresh, twin.Stale, twin.Unknown}
	cols := int(math.Ceil(math.Sqrt(float64(nSites))))
	for i := range nSites {
		p := orb.Point{11.236 + 0.0225*float64(i%cols)/float64(cols), 43.764 + 0.02*float64(i/cols)/float64(cols)}
		e := twin.Entity{
			ID: fmt.Sprintf("urn:ngsi-ld:TrafficFlowObserved:fi-%02d", i), Type: "TrafficFlowObserved", Kind: twin.KindSite,
			Name: fmt.Sprintf("Counter %d", i), Geometry: p, Gateway: "gw-fi-1", Device: fmt.Sprintf("counter-%02d", i),
			Freshness: freshness[i%len(freshness)],
		}
		if f, ok := locate.Locate(p); ok {
			e.Area = f.ID
		}
		if f, _, ok := near.Nearest(p, 2000); ok {
			e.Road = f.ID
		}
		if e.Freshness != twin.Unknown {
			e.Updated = now
			e.Attrs = map[string]twin.Attr{
				"intensity":           {Value: float64(300 + 10*i), Unit: "/h", ObservedAt: now},
				"averageVehicleSpeed": {Value: float64(20 + i), Unit: "km/h", ObservedAt: now},
			}
		}
		a.sites = append(a.sites, e)
	}
	a.indicators = twin.Indicators{Generated: now}
	for i, ar := range a.areas {
		var inds []twin.Indicator
		for j, name := range []string{"traffic_intensity", "air_quality_band_worst"} {
			ind := twin.Indicator{Name: name, Unit: []string{"/h", "1"}[j], Window: "15m", Sensors: i + 1,
				Definition: "Test definition of " + name + ".", UpdatedAt: now}
			if i != len(a.areas)-1 { // the last area has no data
				v := []float64{float64(1000 * (i + 1)), float64(i + 1)}[j] // vehicles per hour; EAQI band 1..6
				ind.Value = &v
			} else {
				ind.Sensors = 0
			}
			inds = append(inds, ind)
		}
		a.indicators.Areas = append(a.indicators.Areas, twin.AreaIndicators{ID: ar.ID, Name: ar.Name, Indicators: inds})
	}
	v := 1234.0
	a.indicators.City = []twin.Indicator{{Name: "traffic_intensity", Value: &v, Unit: "/h", Sensors: 20, Window: "15m", Definition: "City total."}}
	return a
}

// feature renders an entity as the API contract's GeoJSON Feature.
func (a *fakeAPI) feature(e twin.Entity) map[string]any {
	props := map[string]any{"type": e.Type, "kind": e.Kind, "name": e.Name, "freshness": e.Freshness, "attrs": e.Attrs}
	for k, v := range map[string]string{"area": e.Area, "road": e.Road, "gateway": e.Gateway, "device": e.Device} {
		if v != "" {
			props[k] = v
		}
	}
	if !e.Updated.IsZero() {
		props["updated"] = e.Updated.Format(time.RFC3339)
	}
	if e.Kind == twin.KindArea {
		inds := map[string]any{}
		for _, ai := range a.indicators.Areas {
			if ai.ID == e.ID {
				for _, i := range ai.Indicators {
					inds[i.Name] = i.Value
				}
			}
		}
		props["indicators"] = inds
	}
	return map[string]any{"type": "Feature", "id": e.ID, "geometry": geometry(e.Geometry), "properties": props}
}

func (a *fakeAPI) all() []twin.Entity {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append(append(append(append([]twin.Entity{}, a.areas...), a.roads...), a.sites...), a.gateways...)
}

// authorized: the token in the header, or, on the stream only, a ticket
// it issued (used up). A token in the URL is refused, as twin/api does.
func (a *fakeAPI) authorized(r *http.Request) bool {
	if r.URL.Path == "/api/v1/stream" && r.URL.Query().Has("ticket") {
		a.mu.Lock()
		defer a.mu.Unlock()
		tk := r.URL.Query().Get("ticket")
		ok := a.tickets[tk]
		delete(a.tickets, tk)
		return ok
	}
	return r.Header.Get("Authorization") == "Bearer "+testToken
}

func writeJSON(w http.ResponseWriter, ctype string, v any) {
	w.Header().Set("Content-Type", ctype)
	_ = json.NewEncoder(w).Encode(v)
}

// ServeHTTP answers /api/v1/...
func (a *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/api/v1")
	public := path == "/indicators" || path == "/areas.geojson"
	if !public && !a.authorized(r) {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, "application/json", map[string]string{"error": "missing or invalid token"})
		return
	}
	if a.real != nil && (path == "/snapshot" || path == "/history") {
		a.real.ServeHTTP(w, r)
		return
	}
	switch path {
	case "/stream/ticket":
		a.mu.Lock()
		if a.tickets == nil {
			a.tickets = map[string]bool{}
		}
		tk := fmt.Sprintf("ticket-%d", len(a.tickets)+int(a.seq)+1000*len(a.streamURLs))
		a.tickets[tk] = true
		a.mu.Unlock()
		writeJSON(w, "application/json", map[string]string{"ticket": tk, "expires": time.Now().Add(time.Minute).UTC().Format(time.RFC3339)})
	case "/entities":
		var fs []any
		kinds := r.URL.Query().Get("type")
		for _, e := range a.all() {
			if kinds == "" || slices.Contains(strings.Split(kinds, ","), string(e.Kind)) || slices.Contains(strings.Split(kinds, ","), e.Type) {
				fs = append(fs, a.feature(e))
			}
		}
		writeJSON(w, "application/geo+json", map[string]any{"type": "FeatureCollection", "features": fs})
	case "/indicators":
		w.Header().Set("Access-Control-Allow-Origin", "*")
		writeJSON(w, "application/json", a.indicators)
	case "/areas.geojson":
		if !a.publicShapes {
			http.NotFound(w, r)
			return
		}
		var fs []any
		for _, e := range a.areas {
			fs = append(fs, map[string]any{"type": "Feature", "id": e.ID, "geometry": geometry(e.Geometry), "properties": map[string]any{"name": e.Name}})
		}
		writeJSON(w, "application/geo+json", map[string]any{"type": "FeatureCollection", "features": fs})
	case "/history":
		a.history(w, r)
	case "/tiles/sites.json":
		sum := sitetiles.Summarize(a.all())
		writeJSON(w, "application/json", map[string]any{"sites": sum.Sites, "gateways": sum.Gateways, "frame": sum.Frame,
			"minzoom": sitetiles.MinZoom, "maxzoom": sitetiles.MaxZoom, "clusterMaxZoom": sitetiles.ClusterMaxZoom, "layer": sitetiles.Layer})
	case "/stream":
		a.mu.Lock()
		a.streamURLs = append(a.streamURLs, r.URL.String())
		a.mu.Unlock()
		a.stream(w, r)
	default:
		if strings.HasPrefix(path, "/tiles/sites/") {
			a.tile(w, r, strings.TrimPrefix(path, "/tiles/sites/"))
			return
		}
		http.NotFound(w, r)
	}
}

// tile answers /tiles/sites/{z}/{x}/{y} as twin/api does (without its
// cache): the sites and gateways through twin/sitetiles.
func (a *fakeAPI) tile(w http.ResponseWriter, r *http.Request, zxy string) {
	var z, x, y int
	if _, err := fmt.Sscanf(zxy, "%d/%d/%d", &z, &x, &y); err != nil || sitetiles.Check(z, x, y) != nil {
		http.Error(w, "bad tile "+zxy, http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	a.lastTileQuery.Store(r.URL.RawQuery)
	t0 := time.Now()
	tile := maptile.New(uint32(x), uint32(y), maptile.Zoom(z))
	// The tile's sites only, as twin/api asks the twin's R-tree: copying
	// 100,000 entities for each tile was most of the first load.
	bound := sitetiles.Bound(tile)
	var ents []twin.Entity
	a.mu.Lock()
	for _, l := range [][]twin.Entity{a.sites, a.gateways} {
		for i := range l {
			if p, ok := l[i].Geometry.(orb.Point); ok && bound.Contains(p) {
				ents = append(ents, l[i])
			}
		}
	}
	a.mu.Unlock()
	body, err := sitetiles.Encode(ents, tile, sitetiles.Filter{Type: q.Get("type"), Freshness: twin.Freshness(q.Get("freshness"))})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	a.tiles.Add(1)
	a.tileBytes.Add(int64(len(body)))
	a.tileTime.Add(int64(time.Since(t0)))
	a.lastTile.Store(time.Now().UnixNano())
	w.Header().Set("Content-Type", "application/vnd.mapbox-vector-tile")
	_, _ = w.Write(body)
}

func (a *fakeAPI) stream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "no flusher", http.StatusInternalServerError)
		return
	}
	ch := make(chan string, 64)
	a.mu.Lock()
	a.clients[ch] = struct{}{}
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.clients, ch)
		a.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = fmt.Fprint(w, ": ping\n\n")
	fl.Flush()
	select {
	case a.connected <- struct{}{}:
	default:
	}
	for {
		select {
		case ev := <-ch:
			_, _ = fmt.Fprint(w, ev)
			fl.Flush()
		case <-r.Context().Done():
			return
		case <-a.done:
			return
		}
	}
}

// sendEntity sends an entity change to every connected stream.
func (a *fakeAPI) sendEntity(e twin.Entity) int { return a.sendChange("entity", e) }

// sendRemoved tells every connected stream that an entity is gone, and
// drops it from the entities the fake serves.
func (a *fakeAPI) sendRemoved(e twin.Entity) int {
	a.mu.Lock()
	for _, l := range []*[]twin.Entity{&a.sites, &a.gateways} {
		*l = slices.DeleteFunc(*l, func(x twin.Entity) bool { return x.ID == e.ID })
	}
	a.mu.Unlock()
	return a.sendChange("removed", e)
}

// sendChange sends an event carrying an entity's Feature to every
// connected stream.
func (a *fakeAPI) sendChange(event string, e twin.Entity) int {
	data, err := json.Marshal(a.feature(e))
	if err != nil {
		a.t.Fatal(err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seq++
	ev := fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", a.seq, event, data)
	for ch := range a.clients {
		ch <- ev
	}
	return len(a.clients)
}

// sendIndicators sends the current indicators to every connected stream
// as twin/api sends them after a stream's first indicators event: each
// indicator's name, value, sensors and updatedAt only.
func (a *fakeAPI) sendIndicators() int {
	values := func(in []twin.Indicator) []map[string]any {
		var out []map[string]any
		for _, i := range in {
			out = append(out, map[string]any{"name": i.Name, "value": i.Value, "sensors": i.Sensors, "updatedAt": i.UpdatedAt})
		}
		return out
	}
	body := map[string]any{"generated": a.indicators.Generated, "city": values(a.indicators.City)}
	var areas []map[string]any
	for _, ar := range a.indicators.Areas {
		areas = append(areas, map[string]any{"id": ar.ID, "name": ar.Name, "level": ar.Level, "indicators": values(ar.Indicators)})
	}
	body["areas"] = areas
	data, err := json.Marshal(body)
	if err != nil {
		a.t.Fatal(err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ev := fmt.Sprintf("event: indicators\ndata: %s\n\n", data)
	for ch := range a.clients {
		ch <- ev
	}
	return len(a.clients)
}

// geometry is a GeoJSON geometry object: orb's point, line and polygon
// types marshal as GeoJSON coordinate arrays.
func geometry(g orb.Geometry) map[string]any {
	return map[string]any{"type": g.GeoJSONType(), "coordinates": g}
}

// sendResync tells every connected stream to reload the entities.
func (a *fakeAPI) sendResync() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ch := range a.clients {
		ch <- "event: resync\ndata: {}\n\n"
	}
	return len(a.clients)
}

// history answers /history as twin/api does: each series in its own unit
// (the entity attribute's of the same name; a boolean's share of time is
// a ratio "1"), 6 hours of 5-minute means swinging round the attribute's
// latest value.
func (a *fakeAPI) history(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	unit, base, share := "", 100.0, false
	for _, e := range a.all() {
		if e.ID != q.Get("entity") {
			continue
		}
		at := e.Attrs[q.Get("point")]
		unit = at.Unit
		switch v := at.Value.(type) {
		case float64:
			base = v
		case int64:
			base = float64(v)
		case bool:
			unit, base, share = "1", 0.5, true
		}
	}
	var pts []map[string]any
	end := time.Now().UTC().Truncate(5 * time.Minute)
	for i := range 72 {
		v := base * (1 + 0.2*math.Sin(float64(i)/8))
		if share {
			v = 0.5 + 0.4*math.Sin(float64(i)/8)
		}
		if unit == "1" {
			v = min(v, 1) // a ratio
		}
		pts = append(pts, map[string]any{"time": end.Add(time.Duration(i-71) * 5 * time.Minute).Format(time.RFC3339), "value": v})
	}
	writeJSON(w, "application/json", map[string]any{"entity": q.Get("entity"), "point": q.Get("point"), "unit": unit, "every": q.Get("every"), "points": pts})
}
