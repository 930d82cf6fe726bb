package geo

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/planar"
)

// randomPointsInAreas draws n points, each uniform in the bound of a
// randomly chosen feature.
func randomPointsInAreas(l *Layer, n int) []orb.Point {
	rng := rand.New(rand.NewPCG(11, 12))
	pts := make([]orb.Point, n)
	for i := range pts {
		b := l.Features[rng.IntN(len(l.Features))].Bound
		pts[i] = orb.Point{b.Min[0] + rng.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + rng.Float64()*(b.Max[1]-b.Min[1])}
	}
	return pts
}

func reportRate(b *testing.B, unit string) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, unit)
	}
}

// BenchmarkLocate: point-in-area lookups over the 82 real municipalities.
func BenchmarkLocate(b *testing.B) {
	areas := metroAreas(b)
	pts := randomPointsInAreas(areas.Layer(), 4096)
	found := 0
	for _, p := range pts {
		if _, ok := areas.Locate(p); ok {
			found++
		}
	}
	if found == 0 {
		b.Fatal("no point was located")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		areas.Locate(pts[i&4095])
	}
	reportRate(b, "lookups/s")
	b.ReportMetric(float64(found)/float64(len(pts)), "found/lookup")
}

// BenchmarkLocateGrid compares the tree with the box scan on 10,000 small
// square areas (the scale of a city's census sections).
func BenchmarkLocateGrid(b *testing.B) {
	var feats []Feature
	for i := 0; i < 100; i++ {
		for j := 0; j < 100; j++ {
			x, y := 11+float64(i)*0.002, 43.7+float64(j)*0.002
			sq := orb.Polygon{orb.Ring{{x, y}, {x + 0.002, y}, {x + 0.002, y + 0.002}, {x, y + 0.002}, {x, y}}}
			feats = append(feats, Feature{ID: fmt.Sprint(i, "-", j), Geometry: sq, Bound: sq.Bound()})
		}
	}
	areas, err := NewAreas(&Layer{Name: "grid", Kind: KindAreas, Features: feats})
	if err != nil {
		b.Fatal(err)
	}
	pts := randomPointsInAreas(areas.Layer(), 4096)
	b.Run("rtree", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			areas.Locate(pts[i&4095])
		}
		reportRate(b, "lookups/s")
	})
	bounds := polyBounds(areas)
	b.Run("linear", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			linearLocate(areas, bounds, pts[i&4095])
		}
		reportRate(b, "lookups/s")
	})
}

// linearLocate is Locate without the tree: every polygon's box (bounds,
// precomputed) in layer order, then the polygon.
func linearLocate(a *Areas, bounds []orb.Bound, p orb.Point) int32 {
	for j, pb := range bounds {
		if pb.Contains(p) && planar.PolygonContains(a.polys[j], p) {
			return a.polyFeat[j]
		}
	}
	return -1
}

func polyBounds(a *Areas) []orb.Bound {
	bounds := make([]orb.Bound, len(a.polys))
	for i, p := range a.polys {
		bounds[i] = p.Bound()
	}
	return bounds
}

// BenchmarkLocateLinear is the alternative to the R-tree: test every
// polygon's box, then the polygon. It keeps the index decision measurable.
func BenchmarkLocateLinear(b *testing.B) {
	areas := metroAreas(b)
	pts := randomPointsInAreas(areas.Layer(), 4096)
	bounds := polyBounds(areas)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		linearLocate(areas, bounds, pts[i&4095])
	}
	reportRate(b, "lookups/s")
}

// BenchmarkNearest: nearest-road lookups within 500 m on the fixture roads,
// from random points within 2 km of the centres of Firenze and Bari.
func BenchmarkNearest(b *testing.B) {
	benchNearest(b, fixtureRoads(b), 500, orb.Point{11.2558, 43.7731}, orb.Point{16.8716, 41.1177})
}

// BenchmarkNearestGrid: the same on a synthetic street grid of 100 m
// blocks, 10 km square (20,200 segments), around Firenze's centre, to show
// how the index scales.
func BenchmarkNearestGrid(b *testing.B) {
	for _, metres := range []float64{100, 500} {
		b.Run(fmt.Sprintf("within_%.0fm", metres), func(b *testing.B) {
			benchNearest(b, gridRoads(b), metres, orb.Point{11.2558, 43.7731})
		})
	}
}

// benchNearest looks up random points within 2 km of the centres.
func benchNearest(b *testing.B, roads *Roads, metres float64, centres ...orb.Point) {
	rng := rand.New(rand.NewPCG(13, 14))
	pts := make([]orb.Point, 4096)
	for i := range pts {
		pts[i] = geo.PointAtBearingAndDistance(centres[i%len(centres)], rng.Float64()*360, rng.Float64()*2000)
	}
	found := 0
	for _, p := range pts {
		if _, _, ok := roads.Nearest(p, metres); ok {
			found++
		}
	}
	if found == 0 {
		b.Fatal("no road found")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		roads.Nearest(pts[i&4095], metres)
	}
	reportRate(b, "lookups/s")
	b.ReportMetric(float64(found)/float64(len(pts)), "found/lookup")
}

// gridRoads is a 10 km square street grid of 100 m blocks around
// Firenze's centre.
func gridRoads(b testing.TB) *Roads {
	const n, step = 100, 100.0
	origin := geo.PointAtBearingAndDistance(geo.PointAtBearingAndDistance(orb.Point{11.2558, 43.7731}, 180, n*step/2), 270, n*step/2)
	var feats []Feature
	for dir := 0; dir < 2; dir++ {
		for i := 0; i <= n; i++ {
			var ls orb.LineString
			for j := 0; j <= n; j++ {
				east, north := float64(i)*step, float64(j)*step
				if dir == 1 {
					east, north = north, east
				}
				ls = append(ls, geo.PointAtBearingAndDistance(geo.PointAtBearingAndDistance(origin, 90, east), 0, north))
			}
			feats = append(feats, Feature{ID: fmt.Sprintf("g%d-%d", dir, i), Geometry: ls, Bound: ls.Bound()})
		}
	}
	r, err := NewRoads(&Layer{Name: "grid", Kind: KindRoads, Features: feats})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkLoad parses and validates both shipped municipality files.
func BenchmarkLoad(b *testing.B) {
	var files [][]byte
	size := 0
	for _, p := range []string{firenzePath, bariPath} {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, data)
		size += len(data)
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, data := range files {
			if _, err := ParseLayer("bench", data, KindAreas, istat); err != nil {
				b.Fatal(err)
			}
		}
	}
}
