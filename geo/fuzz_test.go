package geo

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paulmach/orb"
)

// FuzzParseLayer feeds arbitrary bytes to the loader as each kind of layer.
// It must never panic; an error must be a *LayerError naming the file;
// an accepted layer must hold only valid, indexable geometry.
func FuzzParseLayer(f *testing.F) {
	seeds := []string{
		`{"type":"FeatureCollection","features":[{"type":"Feature","id":"a","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}`,
		`{"type":"FeatureCollection","features":[{"type":"Feature","id":1,"geometry":{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]],[[0.2,0.1],[0.8,0.1],[0.8,0.7],[0.2,0.1]]]]}}]}`,
		`{"type":"FeatureCollection","features":[{"type":"Feature","id":"r","geometry":{"type":"LineString","coordinates":[[11.25,43.77],[11.26,43.78]]}}]}`,
		`{"type":"FeatureCollection","features":[{"type":"Feature","id":"r","geometry":{"type":"MultiLineString","coordinates":[[[11.25,43.77],[11.26,43.78]]]}}]}`,
		`{"type":"FeatureCollection","features":[{"type":"Feature","id":"s","properties":{"name":"x","n":1e400},"geometry":{"type":"Point","coordinates":[11.25,43.77,1]}}]}`,
		`{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:3003"}},"features":[]}`,
		`{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3003"}},"features":[{"type":"Feature","id":"q","geometry":{"type":"Polygon","coordinates":[[[1680500,4848000],[1682500,4848000],[1682500,4850000],[1680500,4848000]]]}}]}`,
		`{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:32633"}},"features":[{"type":"Feature","id":"q","geometry":{"type":"Point","coordinates":[1e300,-1e300]}}]}`,
		`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1681000,4850000]}}]}`,
		`{"type":"Feature"}`, `[]`, `{`, `null`, ``,
	}
	for _, s := range seeds {
		for k := byte(0); k < 3; k++ {
			f.Add([]byte(s), k)
		}
	}
	bad, _ := filepath.Glob(filepath.Join("testdata", "bad", "*.geojson"))
	for _, path := range bad {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data, byte(0))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, k byte) {
		kind := Kind(int(k%3) + 1)
		l, err := ParseLayer("fuzz.geojson", data, kind, LoadOptions{})
		if err != nil {
			var le *LayerError
			if !errors.As(err, &le) || !strings.HasPrefix(err.Error(), "fuzz.geojson") {
				t.Fatalf("error %q is not a *LayerError naming the file", err)
			}
			if len(le.Problems) == 0 || len(le.Problems) > DefaultMaxErrors {
				t.Fatalf("%d problems listed", len(le.Problems))
			}
			return
		}
		if len(l.Features) == 0 {
			t.Fatal("accepted an empty layer")
		}
		ids := map[string]bool{}
		for _, f := range l.Features {
			if f.ID == "" || ids[f.ID] {
				t.Fatalf("empty or duplicate id %q", f.ID)
			}
			ids[f.ID] = true
			checkGeometry(t, kind, f.Geometry)
			if f.Bound != f.Geometry.Bound() {
				t.Fatalf("feature %s bound %v != geometry bound %v", f.ID, f.Bound, f.Geometry.Bound())
			}
		}
		// Every accepted layer indexes and answers queries.
		var p orb.Point
		switch g := l.Features[0].Geometry.(type) {
		case orb.Point:
			p = g
		default:
			p = l.Features[0].Bound.Center()
		}
		x, err := NewIndex(l)
		if err != nil {
			t.Fatal(err)
		}
		if len(x.Query(l.Bound)) != len(l.Features) {
			t.Fatal("Query(layer bound) misses features")
		}
		switch kind {
		case KindAreas:
			a, err := NewAreas(l)
			if err != nil {
				t.Fatal(err)
			}
			a.Locate(p)
		case KindRoads:
			r, err := NewRoads(l)
			if err != nil {
				t.Fatal(err)
			}
			if _, d, ok := r.Nearest(l.Features[0].Geometry.Bound().Min, math.Inf(1)); !ok || math.IsNaN(d) {
				t.Fatalf("Nearest found nothing (ok %v, d %v) in a non-empty roads layer", ok, d)
			}
		}
	})
}

// checkGeometry asserts what ParseLayer promises of an accepted geometry.
func checkGeometry(t *testing.T, kind Kind, g orb.Geometry) {
	t.Helper()
	pt := func(p orb.Point) {
		if !validPoint(p) {
			t.Fatalf("accepted position %v", p)
		}
	}
	ring := func(r orb.Ring) {
		if len(r) < 4 || r[0] != r[len(r)-1] {
			t.Fatalf("accepted ring %v", r)
		}
		for _, p := range r {
			pt(p)
		}
	}
	line := func(l orb.LineString) {
		if len(l) < 2 {
			t.Fatalf("accepted line %v", l)
		}
		for _, p := range l {
			pt(p)
		}
	}
	switch g := g.(type) {
	case orb.Point:
		if kind != KindSites {
			t.Fatalf("%v layer accepted a Point", kind)
		}
		pt(g)
	case orb.LineString:
		if kind != KindRoads {
			t.Fatalf("%v layer accepted a LineString", kind)
		}
		line(g)
	case orb.MultiLineString:
		if kind != KindRoads || len(g) == 0 {
			t.Fatalf("%v layer accepted MultiLineString %v", kind, g)
		}
		for _, l := range g {
			line(l)
		}
	case orb.Polygon:
		if kind != KindAreas || len(g) == 0 {
			t.Fatalf("%v layer accepted Polygon %v", kind, g)
		}
		for _, r := range g {
			ring(r)
		}
	case orb.MultiPolygon:
		if kind != KindAreas || len(g) == 0 {
			t.Fatalf("%v layer accepted MultiPolygon %v", kind, g)
		}
		for _, p := range g {
			if len(p) == 0 {
				t.Fatal("accepted a polygon without rings")
			}
			for _, r := range p {
				ring(r)
			}
		}
	default:
		t.Fatalf("accepted geometry %T", g)
	}
}
