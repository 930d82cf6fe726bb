package sitetiles

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"

	"github.com/ponte-city/ponte/twin"
)

// Layer is the name of the tiles' one layer (MapLibre's source-layer).
const Layer = "sites"

// Limits and shape of the tiles.
const (
	// MinZoom and MaxZoom bound the zooms served: a request outside them
	// is refused, so a client cannot make the server cut tiles nobody
	// draws (a city at zoom 0-3 is a dot; beyond 18 a site is alone in
	// its tile and the page overzooms tile 18).
	MinZoom = 4
	MaxZoom = 18
	// ClusterMaxZoom is the first zoom whose tiles hold every site on its
	// own (the page's CLUSTER_MAX_ZOOM).
	ClusterMaxZoom = 12
	// CellPixels is the side of a cluster cell in pixels of a 512-pixel
	// tile (the page's former clusterRadius 45 was about that).
	CellPixels = 64
	// Crowded is how many sites one cell may draw each on its own from
	// ClusterMaxZoom: a cell of more is drawn as a cluster.
	Crowded = 32
	// extent is the tiles' coordinate extent.
	extent = 4096
	// buffer is the margin, in extent units, of points drawn in a tile
	// besides their own: a site's circle (at most 24 px across, a
	// gateway's) crossing the tile's edge is drawn whole.
	buffer = 256
)

// Filter keeps some sites (the page's filters): by FIWARE type and by
// freshness; empty keeps all. Gateways are always kept.
type Filter struct {
	Type      string
	Freshness twin.Freshness
}

func (f Filter) keeps(e *twin.Entity) bool {
	if e.Kind == twin.KindGateway {
		return true
	}
	return (f.Type == "" || e.Type == f.Type) && (f.Freshness == "" || e.Freshness == f.Freshness)
}

// ErrTile is returned for a tile outside the served zooms or the grid.
var ErrTile = fmt.Errorf("tile outside zoom %d-%d or its grid", MinZoom, MaxZoom)

// Check says whether z/x/y is a tile this package draws.
func Check(z, x, y int) error {
	if z < MinZoom || z > MaxZoom || x < 0 || y < 0 || x >= 1<<z || y >= 1<<z {
		return ErrTile
	}
	return nil
}

// Bound is the area, in WGS84, whose sites tile z/x/y draws (its own
// bound and the buffer around it): the filter to ask the twin with.
func Bound(t maptile.Tile) orb.Bound {
	b := t.Bound()
	dx := (b.Max[0] - b.Min[0]) * buffer / extent
	dy := (b.Max[1] - b.Min[1]) * buffer / extent
	return orb.Bound{Min: orb.Point{b.Min[0] - dx, b.Min[1] - dy}, Max: orb.Point{b.Max[0] + dx, b.Max[1] + dy}}
}

// Encode draws the sites and gateways among ents (others are ignored)
// that lie in tile t (with its buffer) and that f keeps, as an
// uncompressed Mapbox Vector Tile. The caller checks t with Check.
func Encode(ents []twin.Entity, t maptile.Tile, f Filter) ([]byte, error) {
	fc := geojson.NewFeatureCollection()
	area := Bound(t)
	type cell struct {
		n                            int
		x, y                         float64 // sums of coordinates
		fresh, stale, offline, other int
		one                          *twin.Entity
	}
	cells := map[[2]int]*cell{}
	clustered := t.Z < ClusterMaxZoom
	// Cells in world pixels at this zoom, so a cell straddling two tiles
	// is the same cell (same counts, same position) in both.
	scale := float64(uint64(512)<<t.Z) / CellPixels
	type site struct {
		e *twin.Entity
		k [2]int
	}
	var sites []site // from ClusterMaxZoom, each site and its cell
	for i := range ents {
		e := &ents[i]
		if e.Kind != twin.KindSite && e.Kind != twin.KindGateway {
			continue
		}
		p, ok := e.Geometry.(orb.Point)
		if !ok || !area.Contains(p) || !f.keeps(e) {
			continue
		}
		if e.Kind == twin.KindGateway {
			fc.Append(siteFeature(e, p))
			continue
		}
		wx, wy := world(p)
		k := [2]int{int(wx * scale), int(wy * scale)}
		c := cells[k]
		if c == nil {
			c = &cell{}
			cells[k] = c
		}
		c.n++
		c.x += p[0]
		c.y += p[1]
		c.one = e
		switch e.Freshness {
		case twin.Fresh:
			c.fresh++
		case twin.Stale:
			c.stale++
		case twin.Offline:
			c.offline++
		default:
			c.other++
		}
		if !clustered {
			sites = append(sites, site{e, k})
		}
	}
	// From ClusterMaxZoom a cell's sites are drawn each on its own unless
	// more than Crowded share it: a crowded cell is drawn as a cluster
	// like those below, so that no frame draws far more features than the
	// screen can show apart (100,000 sites in a 2 km square were 100,000
	// dots, 100-175 ms of software WebGL a change; BenchmarkMapChange).
	for _, s := range sites {
		if cells[s.k].n <= Crowded {
			fc.Append(siteFeature(s.e, s.e.Geometry.(orb.Point)))
		}
	}
	for k, c := range cells {
		if clustered && c.n == 1 {
			fc.Append(siteFeature(c.one, c.one.Geometry.(orb.Point)))
			continue
		}
		if !clustered && c.n <= Crowded {
			continue // its sites are drawn above
		}
		// At the sites' mean, kept far enough inside its cell that the
		// clusters of two neighbouring cells never overlap.
		wx, wy := world(orb.Point{c.x / float64(c.n), c.y / float64(c.n)})
		room := (CellPixels/2 - clusterRadius(c.n)) / float64(CellPixels)
		cx, cy := (float64(k[0])+0.5)/scale, (float64(k[1])+0.5)/scale
		wx = math.Max(cx-room/scale, math.Min(cx+room/scale, wx))
		wy = math.Max(cy-room/scale, math.Min(cy+room/scale, wy))
		g := geojson.NewFeature(unworld(wx, wy))
		g.Properties = geojson.Properties{
			"_id":         CellID(int(t.Z), k[0], k[1]),
			"point_count": c.n, "fresh": c.fresh, "stale": c.stale, "offline": c.offline, "unknown": c.other,
		}
		fc.Append(g)
	}
	layer := mvt.NewLayer(Layer, fc)
	layer.Extent = extent
	layer.ProjectToTile(t)
	return mvt.Marshal(mvt.Layers{layer})
}

// CellID is the "_id" of the cluster of cell x, y (in cells of
// CellPixels at zoom z) in the tiles: the page paints a live change of a
// site in a cluster over the cluster through feature state by this ID,
// which it computes as Cell does.
func CellID(z, x, y int) string {
	return fmt.Sprintf("c%d/%d/%d", z, x, y)
}

// Cell is the cell, at zoom z, of a site at p: the x and y of CellID.
func Cell(p orb.Point, z int) (int, int) {
	wx, wy := world(p)
	scale := float64(uint64(512)<<z) / CellPixels
	return int(wx * scale), int(wy * scale)
}

// world is p in Web Mercator world coordinates, [0, 1) on both axes.
func world(p orb.Point) (float64, float64) {
	lat := math.Max(-85.0511, math.Min(85.0511, p[1]))
	x := (p[0] + 180) / 360
	s := math.Sin(lat * math.Pi / 180)
	y := 0.5 - math.Log((1+s)/(1-s))/(4*math.Pi)
	return x, y
}

// unworld is world's inverse.
func unworld(x, y float64) orb.Point {
	lat := math.Atan(math.Sinh(math.Pi*(1-2*y))) * 180 / math.Pi
	return orb.Point{x*360 - 180, lat}
}

// clusterRadius is the radius in pixels the page draws a cluster of n
// sites with, plus its 2-px stroke (the clusters layer's circle-radius:
// 12 px at 2 sites, 22 at 100, 30 at 1,000 and more).
func clusterRadius(n int) float64 {
	f := float64(n)
	switch {
	case f <= 2:
		return 14
	case f <= 100:
		return 14 + 10*(f-2)/98
	case f <= 1000:
		return 24 + 8*(f-100)/900
	}
	return 32
}

func siteFeature(e *twin.Entity, p orb.Point) *geojson.Feature {
	g := geojson.NewFeature(p)
	g.Properties = geojson.Properties{"_id": e.ID, "kind": string(e.Kind), "type": e.Type, "freshness": string(e.Freshness)}
	if e.Kind == twin.KindGateway {
		g.Properties["fleet"] = FleetState(e)
	}
	return g
}

// FleetState is a gateway's state for its ring, worst first: "revoked"
// (its credentials are), "offline" (its last will stands or its
// deviceState says so), "degraded" (devices failing), "ok". It is the
// page's fleetState (twin/web/src/map/store.js) on the entity.
func FleetState(e *twin.Entity) string {
	if v, ok := e.Attrs[twin.AttrRevoked].Value.(bool); ok && v {
		return "revoked"
	}
	if e.Freshness == twin.Offline || e.Attrs[twin.AttrDeviceState].Value == "offline" {
		return "offline"
	}
	switch v := e.Attrs[twin.AttrDevicesBad].Value.(type) {
	case int64:
		if v > 0 {
			return "degraded"
		}
	case float64:
		if v > 0 {
			return "degraded"
		}
	case int:
		if v > 0 {
			return "degraded"
		}
	}
	return "ok"
}

// Summary is what the page needs of the sites before any tile: how many
// there are of each kind and where to frame the map.
type Summary struct {
	// Sites and Gateways count the entities of each kind in scope.
	Sites    int `json:"sites"`
	Gateways int `json:"gateways"`
	// Frame is [west, south, east, north] of the devices of the busiest
	// place (FrameCell), nil without devices.
	Frame []float64 `json:"frame,omitempty"`
}

// FrameCell is the side in degrees (about 25 km) of the cells the
// devices are counted in to frame the busiest place: a twin of several
// cities (Firenze and Bari are 400 km apart) opens on the one with most
// devices rather than the country between them. It is the page's former
// fitToData, moved here so the page need not hold every site to open.
const FrameCell = 0.25

// Summarize counts the sites and gateways among ents and frames them.
func Summarize(ents []twin.Entity) Summary {
	var s Summary
	counts := map[[2]int]int{}
	cell := func(p orb.Point) [2]int {
		return [2]int{int(math.Floor(p[0] / FrameCell)), int(math.Floor(p[1] / FrameCell))}
	}
	var best [2]int
	for i := range ents {
		e := &ents[i]
		switch e.Kind {
		case twin.KindSite:
			s.Sites++
		case twin.KindGateway:
			s.Gateways++
		default:
			continue
		}
		p, ok := e.Geometry.(orb.Point)
		if !ok {
			continue
		}
		k := cell(p)
		counts[k]++
		if counts[k] > counts[best] || len(counts) == 1 {
			best = k
		}
	}
	if len(counts) == 0 {
		return s
	}
	b := orb.Bound{Min: orb.Point{math.Inf(1), math.Inf(1)}, Max: orb.Point{math.Inf(-1), math.Inf(-1)}}
	for i := range ents {
		e := &ents[i]
		p, ok := e.Geometry.(orb.Point)
		if !ok || (e.Kind != twin.KindSite && e.Kind != twin.KindGateway) {
			continue
		}
		k := cell(p)
		if abs(k[0]-best[0]) <= 1 && abs(k[1]-best[1]) <= 1 {
			b = b.Extend(p)
		}
	}
	s.Frame = []float64{b.Min[0], b.Min[1], b.Max[0], b.Max[1]}
	return s
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}
