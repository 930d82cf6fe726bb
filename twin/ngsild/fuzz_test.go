package ngsild

import (
	"errors"
	"testing"
)

// FuzzParseQ: any q either parses, and then its rendering parses to the
// same rendering, or fails with a *Problem; it never panics.
func FuzzParseQ(f *testing.F) {
	for _, s := range []string{`no2>40`, `a==1;b!="x"|c`, `(a>=1|b<=2);c==true`, `a=="\"\\"`, `a==-1.5e3`, `a..b`, `((a)`, `a==1,2`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := ParseQ(s)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) || p.Param != "q" {
				t.Fatalf("%q: error %v is not a q Problem", s, err)
			}
			return
		}
		y, err := ParseQ(x.String())
		if err != nil {
			t.Fatalf("%q renders as %q which does not parse: %v", s, x.String(), err)
		}
		if y.String() != x.String() {
			t.Fatalf("%q: %q re-renders as %q", s, x.String(), y.String())
		}
		for _, e := range entities() {
			x.Match(e)
		}
	})
}

// FuzzParseGeoQuery: any georel/geometry/coordinates either parses, and
// then matching the test entities does not panic, or fails with a
// *Problem naming one of the three parameters.
func FuzzParseGeoQuery(f *testing.F) {
	f.Add("near;maxDistance==100", "Point", centre)
	f.Add("within", "Polygon", bariBox)
	f.Add("intersects", "Point", `[0,0]`)
	f.Add("near;minDistance==1;maxDistance==2", "Point", `[1e400,0]`)
	f.Add("intersects", "Polygon", `[[[0,0],[1,0],[1,1],[0,0]],[]]`)
	f.Fuzz(func(t *testing.T, georel, geometry, coordinates string) {
		g, err := ParseGeoQuery(georel, geometry, coordinates)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) || (p.Param != "georel" && p.Param != "geometry" && p.Param != "coordinates") {
				t.Fatalf("error %v is not a georel Problem", err)
			}
			return
		}
		if g == nil {
			return
		}
		for _, e := range entities() {
			g.Match(e)
		}
	})
}
