package geo

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

func TestLocateRealShapes(t *testing.T) {
	areas := metroAreas(t)
	tests := []struct {
		name   string
		p      orb.Point
		want   string // municipality name, "" for none
		wantID string
	}{
		{"Firenze Piazza del Duomo", orb.Point{11.2558, 43.7731}, "Firenze", "048017"},
		{"Fiesole Piazza Mino", orb.Point{11.2930, 43.8066}, "Fiesole", "048015"},
		{"Bari Piazza Aldo Moro", orb.Point{16.8716, 41.1177}, "Bari", "072006"},
		{"Adriatic sea", orb.Point{17.0, 41.3}, "", ""},
		{"Rome", orb.Point{12.4964, 41.9028}, "", ""},
		{"NaN", orb.Point{math.NaN(), 43.77}, "", ""},
		{"out of range", orb.Point{1681000, 4850000}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := areas.Locate(tt.p)
			if ok != (tt.want != "") || f.Name != tt.want || f.ID != tt.wantID {
				t.Errorf("Locate(%v) = %s %q %v, want %s %q", tt.p, f.ID, f.Name, ok, tt.wantID, tt.want)
			}
		})
	}
}

// TestLocateMatchesScan compares the indexed lookup with a scan of every
// feature in layer order over random points in the layers' bounds.
func TestLocateMatchesScan(t *testing.T) {
	l := metroLayer(t)
	areas, err := NewAreas(l)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	found := 0
	for _, b := range []orb.Bound{l.Features[0].Bound.Union(l.Features[40].Bound), l.Features[41].Bound.Union(l.Features[81].Bound)} {
		for i := 0; i < 3000; i++ {
			p := orb.Point{b.Min[0] + rng.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + rng.Float64()*(b.Max[1]-b.Min[1])}
			want := ""
			for _, f := range l.Features {
				if contains(f.Geometry, p) {
					want = f.ID
					break
				}
			}
			got, ok := areas.Locate(p)
			if got.ID != want || ok != (want != "") {
				t.Fatalf("Locate(%v) = %q %v, scan finds %q", p, got.ID, ok, want)
			}
			if ok {
				found++
			}
		}
	}
	if found < 1000 {
		t.Errorf("only %d of 6000 random points fell in an area: the test is not exercising Locate", found)
	}
}

func contains(g orb.Geometry, p orb.Point) bool {
	switch g := g.(type) {
	case orb.Polygon:
		return planar.PolygonContains(g, p)
	case orb.MultiPolygon:
		return planar.MultiPolygonContains(g, p)
	}
	return false
}

// TestLocateHolesOfRealShapes takes a point inside every hole of the Bari
// municipalities: it must not be located in the municipality with the hole.
func TestLocateHolesOfRealShapes(t *testing.T) {
	areas := metroAreas(t)
	holes := 0
	for _, f := range areas.Layer().Features {
		var polys []orb.Polygon
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			polys = []orb.Polygon{g}
		case orb.MultiPolygon:
			polys = g
		}
		for _, poly := range polys {
			for _, hole := range poly[1:] {
				p, ok := pointInRing(hole)
				if !ok {
					t.Fatalf("%s: found no point inside a hole", f.ID)
				}
				holes++
				if got, _ := areas.Locate(p); got.ID == f.ID {
					t.Errorf("%v inside a hole of %s %q is located in it", p, f.ID, f.Name)
				}
			}
		}
	}
	if holes < 7 {
		t.Errorf("found %d holes, want at least 7", holes)
	}
}

// pointInRing finds a point strictly inside r by trying the centroids of
// vertex triples.
func pointInRing(r orb.Ring) (orb.Point, bool) {
	n := len(r) - 1
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			for k := j + 1; k < n; k++ {
				p := orb.Point{(r[i][0] + r[j][0] + r[k][0]) / 3, (r[i][1] + r[j][1] + r[k][1]) / 3}
				if planar.RingContains(r, p) && !onRing(r, p) {
					return p, true
				}
			}
		}
	}
	return orb.Point{}, false
}

// onRing reports whether p lies on (or within 1e-10 degrees of) an edge.
func onRing(r orb.Ring, p orb.Point) bool {
	for i := 1; i < len(r); i++ {
		if planar.DistanceFromSegmentSquared(r[i-1], r[i], p) < 1e-20 {
			return true
		}
	}
	return false
}

// TestLocateBoundaryRule checks the documented rule on a square with a hole
// filled by an enclave, listed after it.
func TestLocateBoundaryRule(t *testing.T) {
	data := `{"type":"FeatureCollection","features":[
{"type":"Feature","id":"outer","geometry":{"type":"Polygon","coordinates":[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[1,1],[1,3],[3,3],[3,1],[1,1]]]}},
{"type":"Feature","id":"enclave","geometry":{"type":"Polygon","coordinates":[[[1,1],[3,1],[3,3],[1,3],[1,1]]]}},
{"type":"Feature","id":"east","geometry":{"type":"MultiPolygon","coordinates":[[[[4,0],[6,0],[6,4],[4,4],[4,0]]],[[[10,10],[11,10],[11,11],[10,10]]]]}}
]}`
	l, err := ParseLayer("rule", []byte(data), KindAreas, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	areas, err := NewAreas(l)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		p    orb.Point
		want string
	}{
		{orb.Point{0.5, 0.5}, "outer"},
		{orb.Point{2, 2}, "enclave"},
		{orb.Point{1, 2}, "enclave"}, // on the hole's ring: outside outer, on enclave's outer ring
		{orb.Point{0, 2}, "outer"},   // on outer ring
		{orb.Point{4, 2}, "outer"},   // shared edge: first in layer order
		{orb.Point{5, 2}, "east"},
		{orb.Point{10.8, 10.2}, "east"}, // second polygon of the MultiPolygon
		{orb.Point{10.2, 10.8}, ""},     // in that polygon's box, outside its triangle
		{orb.Point{7, 2}, ""},
	}
	for _, tt := range tests {
		got, ok := areas.Locate(tt.p)
		if got.ID != tt.want || ok != (tt.want != "") {
			t.Errorf("Locate(%v) = %q %v, want %q", tt.p, got.ID, ok, tt.want)
		}
	}
}

func TestNewAreasWrongKind(t *testing.T) {
	roads := mustLoad(t, roadsPath, KindRoads, LoadOptions{})
	if _, err := NewAreas(roads); !errors.Is(err, ErrKind) {
		t.Errorf("NewAreas(roads) error %v, want ErrKind", err)
	}
	if _, err := NewAreas(nil); !errors.Is(err, ErrKind) {
		t.Errorf("NewAreas(nil) error %v, want ErrKind", err)
	}
	bad := &Layer{Kind: KindAreas, Features: []Feature{{ID: "x", Geometry: orb.Point{1, 2}}}}
	if _, err := NewAreas(bad); !errors.Is(err, ErrKind) {
		t.Errorf("NewAreas(areas layer holding a point) error %v, want ErrKind", err)
	}
}
