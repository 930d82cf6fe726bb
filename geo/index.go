package geo

import (
	"fmt"
	"math"
	"slices"

	"github.com/paulmach/orb"
)

// An Index answers bounding-box queries over a layer of any kind. It is
// immutable after NewIndex, so its methods may be called from any number
// of goroutines.
type Index struct {
	layer *Layer
	tree  *rtree // one entry per feature, id = feature index
}

// NewIndex indexes the features' bounds of layer.
func NewIndex(layer *Layer) (*Index, error) {
	if layer == nil {
		return nil, fmt.Errorf("index layer: %w: layer is nil", ErrKind)
	}
	bounds := make([]orb.Bound, len(layer.Features))
	for i, f := range layer.Features {
		bounds[i] = f.Bound
	}
	return &Index{layer: layer, tree: newRTree(bounds)}, nil
}

// Layer returns the indexed layer.
func (x *Index) Layer() *Layer { return x.layer }

// Query returns, in layer order, the features whose bounding box
// intersects b (touching counts). It compares boxes only: an area whose
// box overlaps b is returned even if its polygon does not reach into b.
// For sites (points) that is exact.
func (x *Index) Query(b orb.Bound) []Feature {
	if b.IsEmpty() || hasNaN(b.Min) || hasNaN(b.Max) {
		return nil
	}
	var hits []int32
	x.tree.search(b, func(id int32) bool {
		hits = append(hits, id)
		return true
	})
	slices.Sort(hits)
	out := make([]Feature, len(hits))
	for i, id := range hits {
		out[i] = x.layer.Features[id]
	}
	return out
}

func hasNaN(p orb.Point) bool { return math.IsNaN(p[0]) || math.IsNaN(p[1]) }

// validPoint reports whether p is a finite WGS84 lon/lat.
func validPoint(p orb.Point) bool {
	return p[0] >= -180 && p[0] <= 180 && p[1] >= -90 && p[1] <= 90
}
