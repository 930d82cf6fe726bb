package geo

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/paulmach/orb"
)

// TestRTreeMatchesScan compares tree searches with a scan of all boxes for
// sizes around the node fan-out and beyond.
func TestRTreeMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	randBound := func(size float64) orb.Bound {
		x, y := rng.Float64()*100, rng.Float64()*100
		return orb.Bound{Min: orb.Point{x, y}, Max: orb.Point{x + rng.Float64()*size, y + rng.Float64()*size}}
	}
	for _, n := range []int{0, 1, 2, 15, 16, 17, 255, 256, 257, 3000} {
		t.Run("", func(t *testing.T) {
			bounds := make([]orb.Bound, n)
			for i := range bounds {
				bounds[i] = randBound(5)
			}
			tree := newRTree(bounds)
			for q := 0; q < 200; q++ {
				qb := randBound(20)
				if q%4 == 0 {
					qb = orb.Bound{Min: qb.Min, Max: qb.Min} // a point
				}
				var got, want []int32
				tree.search(qb, func(id int32) bool { got = append(got, id); return true })
				for i, b := range bounds {
					if b.Intersects(qb) {
						want = append(want, int32(i))
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("n=%d query %v: tree %v, scan %v", n, qb, got, want)
				}
			}
			// Stopping early stops the search.
			calls := 0
			tree.search(orb.Bound{Min: orb.Point{-1, -1}, Max: orb.Point{200, 200}}, func(int32) bool { calls++; return false })
			if n > 0 && calls != 1 {
				t.Errorf("search went on after fn returned false: %d calls", calls)
			}
		})
	}
}

func TestQuery(t *testing.T) {
	layers := map[string]*Layer{
		"metro": metroLayer(t),
		"roads": mustLoad(t, roadsPath, KindRoads, LoadOptions{}),
		"sites": mustLoad(t, sitesPath, KindSites, LoadOptions{}),
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for name, l := range layers {
		t.Run(name, func(t *testing.T) {
			x, err := NewIndex(l)
			if err != nil {
				t.Fatal(err)
			}
			lb := l.Bound
			for q := 0; q < 500; q++ {
				w, h := rng.Float64()*(lb.Max[0]-lb.Min[0])/4, rng.Float64()*(lb.Max[1]-lb.Min[1])/4
				x0, y0 := lb.Min[0]+rng.Float64()*(lb.Max[0]-lb.Min[0]), lb.Min[1]+rng.Float64()*(lb.Max[1]-lb.Min[1])
				qb := orb.Bound{Min: orb.Point{x0, y0}, Max: orb.Point{x0 + w, y0 + h}}
				var want []string
				for _, f := range l.Features {
					if f.Bound.Intersects(qb) {
						want = append(want, f.ID)
					}
				}
				var got []string
				for _, f := range x.Query(qb) {
					got = append(got, f.ID)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("Query(%v) = %v, scan %v", qb, got, want)
				}
			}
			if got := x.Query(lb); len(got) != len(l.Features) {
				t.Errorf("Query(layer bound) = %d features, want all %d", len(got), len(l.Features))
			}
		})
	}
	x, _ := NewIndex(layers["sites"])
	for _, b := range []orb.Bound{
		{Min: orb.Point{1, 1}, Max: orb.Point{0, 0}},
		{Min: orb.Point{math.NaN(), 0}, Max: orb.Point{180, 90}},
	} {
		if got := x.Query(b); len(got) != 0 {
			t.Errorf("Query(%v) = %d features, want none", b, len(got))
		}
	}
	if _, err := NewIndex(nil); !errors.Is(err, ErrKind) {
		t.Errorf("NewIndex(nil) error %v", err)
	}
}
