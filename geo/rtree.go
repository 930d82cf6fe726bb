package geo

import (
	"math"
	"sort"

	"github.com/paulmach/orb"
)

// nodeSize is the fan-out of the packed tree.
const nodeSize = 16

// rtree is a static R-tree packed with Sort-Tile-Recursive (Leutenegger et
// al., 1997): entries are sorted into vertical slices by centre x, each
// slice by centre y, and cut into leaves of nodeSize; each upper level
// groups nodeSize consecutive nodes of the level below. Built once, never
// modified, so searches may run concurrently.
type rtree struct {
	// levels[0] are the entries' bounds in packed order; levels[k][i]
	// covers levels[k-1][i*nodeSize : (i+1)*nodeSize].
	levels [][]orb.Bound
	// ids[i] is the caller's id of levels[0][i].
	ids []int32
}

// newRTree packs bounds; the id of bounds[i] is i.
func newRTree(bounds []orb.Bound) *rtree {
	n := len(bounds)
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	cx := func(i int32) float64 { return bounds[i].Min[0] + bounds[i].Max[0] }
	cy := func(i int32) float64 { return bounds[i].Min[1] + bounds[i].Max[1] }
	sort.Slice(order, func(a, b int) bool { return cx(order[a]) < cx(order[b]) })
	leaves := (n + nodeSize - 1) / nodeSize
	slices := int(math.Ceil(math.Sqrt(float64(leaves))))
	per := slices * nodeSize
	for s := 0; s < n; s += per {
		part := order[s:min(s+per, n)]
		sort.Slice(part, func(a, b int) bool { return cy(part[a]) < cy(part[b]) })
	}

	t := &rtree{ids: order}
	level := make([]orb.Bound, n)
	for i, id := range order {
		level[i] = bounds[id]
	}
	t.levels = append(t.levels, level)
	for len(level) > 1 {
		up := make([]orb.Bound, 0, (len(level)+nodeSize-1)/nodeSize)
		for s := 0; s < len(level); s += nodeSize {
			b := level[s]
			for _, c := range level[s+1 : min(s+nodeSize, len(level))] {
				b = b.Union(c)
			}
			up = append(up, b)
		}
		t.levels = append(t.levels, up)
		level = up
	}
	return t
}

// search calls fn with the id of every entry whose bound intersects q
// (touching counts), until fn returns false.
func (t *rtree) search(q orb.Bound, fn func(id int32) bool) {
	if len(t.ids) == 0 {
		return
	}
	top := len(t.levels) - 1
	for i := range t.levels[top] {
		if !t.visit(top, i, q, fn) {
			return
		}
	}
}

// visit searches node i of level k; it returns false once fn has.
func (t *rtree) visit(k, i int, q orb.Bound, fn func(id int32) bool) bool {
	if !intersects(t.levels[k][i], q) {
		return true
	}
	if k == 0 {
		return fn(t.ids[i])
	}
	below := t.levels[k-1]
	for c := i * nodeSize; c < min((i+1)*nodeSize, len(below)); c++ {
		if !t.visit(k-1, c, q, fn) {
			return false
		}
	}
	return true
}

// intersects is orb.Bound.Intersects without the emptiness checks: every
// bound in the tree comes from validated geometry.
func intersects(a, b orb.Bound) bool {
	return a.Max[0] >= b.Min[0] && a.Min[0] <= b.Max[0] &&
		a.Max[1] >= b.Min[1] && a.Min[1] <= b.Max[1]
}
