package geo

import (
	"fmt"
	"slices"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// Areas locates points in a layer of areas. It is immutable after
// NewAreas, so its methods may be called from any number of goroutines.
type Areas struct {
	*Index
	polys    []orb.Polygon // every polygon of every feature
	polyFeat []int32       // feature index of polys[i]
	tree     *rtree        // one entry per polygon, id = index in polys
}

// NewAreas indexes an areas layer polygon by polygon, so that the parts of
// a MultiPolygon far apart (exclaves, islands) do not make one large box.
func NewAreas(layer *Layer) (*Areas, error) {
	x, err := NewIndex(layer)
	if err != nil {
		return nil, err
	}
	if layer.Kind != KindAreas {
		return nil, fmt.Errorf("index areas of layer %s: %w: it holds %s", layer.Name, ErrKind, layer.Kind)
	}
	a := &Areas{Index: x}
	var bounds []orb.Bound
	for i, f := range layer.Features {
		var polys []orb.Polygon
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			polys = []orb.Polygon{g}
		case orb.MultiPolygon:
			polys = g
		default:
			return nil, fmt.Errorf("index areas of layer %s: %w: features[%d] (id %s) is a %s", layer.Name, ErrKind, i, f.ID, f.Geometry.GeoJSONType())
		}
		for _, p := range polys {
			a.polys = append(a.polys, p)
			a.polyFeat = append(a.polyFeat, int32(i))
			bounds = append(bounds, p.Bound())
		}
	}
	a.tree = newRTree(bounds)
	return a, nil
}

// Locate returns the area containing p. Points on an outer ring count as
// inside, points on a hole's ring as outside (they belong to the enclave);
// where areas overlap or share an edge, the first in layer order wins.
// Edges are straight in lon/lat, as in the source data.
func (a *Areas) Locate(p orb.Point) (Feature, bool) {
	if !validPoint(p) {
		return Feature{}, false
	}
	// Test the candidates in layer order, so the first hit is the answer;
	// a point's box meets only a few polygons' boxes.
	var buf [16]int32
	cands := buf[:0]
	a.tree.search(p.Bound(), func(id int32) bool {
		cands = append(cands, id)
		return true
	})
	slices.Sort(cands) // polygon ids are in layer order
	best := int32(-1)
	for _, id := range cands {
		if planar.PolygonContains(a.polys[id], p) {
			best = a.polyFeat[id]
			break
		}
	}
	if best < 0 {
		return Feature{}, false
	}
	return a.layer.Features[best], true
}
