package geo

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
)

func TestSegmentDistanceSimpleCases(t *testing.T) {
	a, b := orb.Point{11.25, 43.77}, orb.Point{11.25, 43.78} // a meridian segment
	east := geo.PointAtBearingAndDistance(orb.Point{11.25, 43.775}, 90, 250)
	tests := []struct {
		name string
		p    orb.Point
		want float64 // geo.DistanceHaversine to the expected closest point
	}{
		{"abeam the middle", east, geo.DistanceHaversine(east, orb.Point{11.25, east[1]})},
		{"beyond b", orb.Point{11.25, 43.79}, geo.DistanceHaversine(orb.Point{11.25, 43.79}, b)},
		{"before a, off to the side", orb.Point{11.26, 43.76}, geo.DistanceHaversine(orb.Point{11.26, 43.76}, a)},
		{"on the segment", orb.Point{11.25, 43.7712}, 0},
		{"on a vertex", b, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := segmentDistance(tt.p, a, b)
			if math.Abs(got-tt.want) > 0.01 {
				t.Errorf("distance %.4f m, want %.4f m", got, tt.want)
			}
			// Order of the ends must not matter.
			if back := segmentDistance(tt.p, b, a); math.Abs(back-got) > 1e-6 {
				t.Errorf("reversed segment: %.6f m, forward %.6f m", back, got)
			}
		})
	}
	if d := geo.DistanceHaversine(east, orb.Point{11.25, 43.775}); math.Abs(d-250) > 0.01 {
		t.Fatalf("test setup: east point is %.3f m from the segment's middle", d)
	}
	if d := segmentDistance(east, a, b); math.Abs(d-250) > 0.05 {
		t.Errorf("point 250 m east of the segment is %.3f m from it", d)
	}
}

// TestSegmentDistanceAgainstDensified compares the projection method with
// the minimum haversine distance over the segment cut into 1 m steps, for
// random city-scale segments at the latitudes of Bari and Firenze and far
// north.
func TestSegmentDistanceAgainstDensified(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	worst := 0.0
	for _, lat := range []float64{41.12, 43.77, 65} {
		for i := 0; i < 60; i++ {
			c := orb.Point{11 + rng.Float64(), lat + rng.Float64()*0.1}
			a := geo.PointAtBearingAndDistance(c, rng.Float64()*360, rng.Float64()*1000)
			b := geo.PointAtBearingAndDistance(c, rng.Float64()*360, rng.Float64()*1000)
			p := geo.PointAtBearingAndDistance(c, rng.Float64()*360, rng.Float64()*1500)
			got := segmentDistance(p, a, b)
			brute := densifiedDistance(p, a, b)
			// brute samples every metre, so it may exceed the true minimum
			// by the sagitta of half a step; it can never be below it.
			if diff := got - brute; diff > 0.05 || diff < -0.2 {
				t.Errorf("lat %v: p %v segment %v-%v: %.4f m, densified %.4f m", lat, p, a, b, got, brute)
			}
			worst = math.Max(worst, math.Abs(got-brute))
		}
	}
	t.Logf("largest difference from the densified minimum: %.4f m", worst)
}

func densifiedDistance(p, a, b orb.Point) float64 {
	n := int(math.Ceil(geo.DistanceHaversine(a, b))) + 1
	best := math.Inf(1)
	for i := 0; i <= n; i++ {
		t := float64(i) / float64(n)
		q := orb.Point{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])}
		best = math.Min(best, geo.DistanceHaversine(p, q))
	}
	return best
}

func TestNearestFixture(t *testing.T) {
	roads := fixtureRoads(t)
	duomo := orb.Point{11.2558, 43.7731}
	tests := []struct {
		name   string
		p      orb.Point
		max    float64
		wantID string
		at     orb.Point // the vertex of the road nearest p, if one is
	}{
		{"on a vertex of Via Cavour", orb.Point{11.2590, 43.7782}, 0, "FI-03", orb.Point{11.2590, 43.7782}},
		// The north end of Via dei Calzaiuoli, whose first segment runs south.
		{"Duomo within 200 m", duomo, 200, "FI-01", orb.Point{11.2557, 43.7725}},
		{"Duomo within 5 m", duomo, 5, "", orb.Point{}},
		{"Bari station", orb.Point{16.8716, 41.1177}, 100, "BA-05", orb.Point{}},
		// The east end of Corso Vittorio Emanuele II, about 22 km.
		{"sea point, unbounded", orb.Point{17.0, 41.3}, math.Inf(1), "BA-03", orb.Point{16.874, 41.125}},
		{"sea point within 1 km", orb.Point{17.0, 41.3}, 1000, "", orb.Point{}},
		{"negative distance", duomo, -1, "", orb.Point{}},
		{"NaN distance", duomo, math.NaN(), "", orb.Point{}},
		{"NaN point", orb.Point{math.NaN(), 43}, 1000, "", orb.Point{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, d, ok := roads.Nearest(tt.p, tt.max)
			if f.ID != tt.wantID || ok != (tt.wantID != "") {
				t.Fatalf("Nearest = %q %.1f m %v, want %q", f.ID, d, ok, tt.wantID)
			}
			if ok && (d > tt.max || d < 0) {
				t.Errorf("distance %.3f m outside [0, %v]", d, tt.max)
			}
			if want := geo.DistanceHaversine(tt.p, tt.at); !tt.at.Equal(orb.Point{}) && math.Abs(d-want) > 1e-6 {
				t.Errorf("distance %.3f m, want %.3f m to %v", d, want, tt.at)
			}
		})
	}
}

// TestNearestMatchesScan compares Nearest with a scan of every segment for
// random points and limits around both cities, on the fixture roads and on
// a dense synthetic grid.
func TestNearestMatchesScan(t *testing.T) {
	tests := []struct {
		name    string
		roads   *Roads
		centres []orb.Point
		n       int
	}{
		{"fixture", fixtureRoads(t), []orb.Point{{11.2558, 43.7731}, {16.8716, 41.1177}}, 2000},
		{"grid", gridRoads(t), []orb.Point{{11.2558, 43.7731}}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			hits := 0
			for i := 0; i < tt.n; i++ {
				p := geo.PointAtBearingAndDistance(tt.centres[i%len(tt.centres)], rng.Float64()*360, rng.Float64()*6000)
				max := rng.Float64() * 800
				if i%10 == 0 {
					max = math.Inf(1)
				}
				want, wantD := "", math.Inf(1)
				for _, s := range tt.roads.segs {
					if d := segmentDistance(p, s.a, s.b); d <= max && (d < wantD || d == wantD && tt.roads.layer.Features[s.feat].ID < want) {
						want, wantD = tt.roads.layer.Features[s.feat].ID, d
					}
				}
				got, d, ok := tt.roads.Nearest(p, max)
				if ok != (want != "") || (ok && d != wantD) {
					t.Fatalf("Nearest(%v, %.1f) = %q %.3f %v, scan %q %.3f", p, max, got.ID, d, ok, want, wantD)
				}
				if ok {
					hits++
				}
			}
			if hits < tt.n/10 {
				t.Errorf("only %d of %d lookups found a road: the test is not exercising Nearest", hits, tt.n)
			}
		})
	}
}

// TestSearchBoundHoldsTheCircle checks that every point at distance d from
// p (in every direction) lies in searchBound(p, d), including near a pole
// and the antimeridian.
func TestSearchBoundHoldsTheCircle(t *testing.T) {
	tests := []struct {
		p orb.Point
		d float64
	}{
		{orb.Point{11.2558, 43.7731}, 500},
		{orb.Point{16.8716, 41.1177}, 50000},
		{orb.Point{0, 0}, 1e6},
		{orb.Point{179.99, 10}, 5000},
		{orb.Point{-179.99, -10}, 5000},
		{orb.Point{20, 89.99}, 5000},
		{orb.Point{20, -89.9}, 50000},
		{orb.Point{20, 45}, 3e7},
	}
	for _, tt := range tests {
		b := searchBound(tt.p, tt.d)
		for bearing := 0.0; bearing < 360; bearing += 0.5 {
			q := geo.PointAtBearingAndDistance(tt.p, bearing, tt.d)
			q[0] = wrapLon(q[0])
			if !b.Contains(q) {
				t.Errorf("p %v d %v: point %v at bearing %v outside %v", tt.p, tt.d, q, bearing, b)
				break
			}
		}
	}
}

func TestNearestAcrossAntimeridian(t *testing.T) {
	data := `{"type":"FeatureCollection","features":[
{"type":"Feature","id":"dateline","geometry":{"type":"LineString","coordinates":[[-179.999,-16.5],[-179.999,-16.4]]}},
{"type":"Feature","id":"far","geometry":{"type":"LineString","coordinates":[[170,-16.5],[170,-16.4]]}}]}`
	l, err := ParseLayer("fiji", []byte(data), KindRoads, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	roads, err := NewRoads(l)
	if err != nil {
		t.Fatal(err)
	}
	p := orb.Point{179.999, -16.45}
	f, d, ok := roads.Nearest(p, 1000)
	want := geo.DistanceHaversine(p, orb.Point{-179.999, -16.45})
	if !ok || f.ID != "dateline" || math.Abs(d-want) > 0.01 {
		t.Errorf("Nearest = %q %.2f m %v, want dateline %.2f m", f.ID, d, ok, want)
	}
}

func TestNewRoadsWrongKind(t *testing.T) {
	if _, err := NewRoads(metroLayer(t)); !errors.Is(err, ErrKind) {
		t.Errorf("NewRoads(areas) error %v, want ErrKind", err)
	}
	bad := &Layer{Kind: KindRoads, Features: []Feature{{ID: "x", Geometry: orb.Point{1, 2}}}}
	if _, err := NewRoads(bad); !errors.Is(err, ErrKind) {
		t.Errorf("NewRoads(roads layer holding a point) error %v, want ErrKind", err)
	}
}
