package geo

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
)

// TestEPSG3003LoadsAsWGS84 loads testdata/firenze-epsg3003.geojson, the
// ISTAT polygon of the municipality of Firenze converted to EPSG:3003
// with PROJ 9.1.1 (cs2cs EPSG:4326 EPSG:3003, millimetre precision; a
// test fixture, not a district), and checks that every vertex comes back
// within 0.1 m of the shipped WGS84 polygon (see TestControlPoints for
// where the error comes from).
func TestEPSG3003LoadsAsWGS84(t *testing.T) {
	want := mustLoad(t, "data/firenze-metro-municipalities.geojson", KindAreas, LoadOptions{IDProperty: "com_istat_code"})
	var wantPoly orb.Polygon
	for _, f := range want.Features {
		if f.ID == "048017" {
			wantPoly = f.Geometry.(orb.Polygon)
		}
	}
	for _, tc := range []struct {
		path string
		opts LoadOptions
	}{
		{"testdata/firenze-epsg3003.geojson", LoadOptions{IDProperty: "com_istat_code"}},
		// The same without a "crs" member, as a converted shapefile comes:
		// the CRS is given by the option.
		{"testdata/firenze-epsg3003-nocrs.geojson", LoadOptions{IDProperty: "com_istat_code", CRS: "EPSG:3003"}},
		// Both, agreeing.
		{"testdata/firenze-epsg3003.geojson", LoadOptions{IDProperty: "com_istat_code", CRS: "3003"}},
	} {
		got := mustLoad(t, tc.path, KindAreas, tc.opts)
		if got.CRS.Code != 3003 {
			t.Errorf("%s: CRS %v, want EPSG:3003", tc.path, got.CRS)
		}
		poly := got.Features[0].Geometry.(orb.Polygon)
		if len(poly) != len(wantPoly) || len(poly[0]) != len(wantPoly[0]) {
			t.Fatalf("%s: %d rings of %d, want %d of %d", tc.path, len(poly), len(poly[0]), len(wantPoly), len(wantPoly[0]))
		}
		worst := 0.0
		for i, p := range poly[0] {
			worst = math.Max(worst, geo.Distance(p, wantPoly[0][i]))
		}
		if worst > 0.1 {
			t.Errorf("%s: a vertex is %.3f m from the WGS84 polygon's, want within 0.1 m", tc.path, worst)
		}
		t.Logf("%s: worst vertex %.3f m from the WGS84 polygon", tc.path, worst)
		// The reprojected polygon answers Locate like the original.
		areas, err := NewAreas(got)
		if err != nil {
			t.Fatal(err)
		}
		if f, ok := areas.Locate(orb.Point{11.2558, 43.7696}); !ok || f.ID != "048017" {
			t.Errorf("%s: Palazzo Vecchio located in %v %v, want 048017", tc.path, f.ID, ok)
		}
	}
}

// TestCRSOptionConflict: a file whose "crs" member disagrees with the
// configured CRS is refused rather than guessed.
func TestCRSOptionConflict(t *testing.T) {
	_, err := LoadLayer("testdata/firenze-epsg3003.geojson", KindAreas, LoadOptions{IDProperty: "com_istat_code", CRS: "EPSG:25832"})
	if !errors.Is(err, ErrCRS) || !strings.Contains(err.Error(), `testdata/firenze-epsg3003.geojson:1: "crs" is EPSG:3003 (Monte Mario / Italy zone 1) but the layer's crs option says EPSG:25832`) {
		t.Errorf("got %v", err)
	}
	_, err = LoadLayer("testdata/firenze-epsg3003.geojson", KindAreas, LoadOptions{CRS: "EPSG:9999"})
	if err == nil || !strings.Contains(err.Error(), `load options: crs: CRS "EPSG:9999" (EPSG:9999) is not supported: supported are EPSG 3003`) {
		t.Errorf("got %v", err)
	}
}

// FuzzParseCRS: any name, and any "crs" member, gives a supported CRS or
// an error, never a panic; an accepted CRS converts a point of its area
// of use to a finite lon/lat.
func FuzzParseCRS(f *testing.F) {
	for _, s := range []string{"EPSG:3003", "urn:ogc:def:crs:EPSG::6707", "http://www.opengis.net/def/crs/EPSG/0/25833",
		"urn:ogc:def:crs:OGC:1.3:CRS84", "3004", "EPSG:", "EPSG::", "EPSG:99999999", "epsg:0032632", "", "EPSG:3003:", "/EPSG/0/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		c, err := ParseCRS(name)
		if err != nil {
			if c.Code != 0 {
				t.Fatalf("error with a CRS: %v %v", c, err)
			}
		} else if !slices.ContainsFunc(SupportedCRS(), func(s CRS) bool { return s.Code == c.Code && s.Name == c.Name }) {
			t.Fatalf("ParseCRS(%q) = %v, not a supported CRS", name, c)
		}
		_, _ = crsMember([]byte(name))
		if !utf8.ValidString(name) {
			return
		}
		q, _ := json.Marshal(name)
		member := `{"type":"name","properties":{"name":` + string(q) + `}}`
		if c2, msg := crsMember([]byte(member)); (msg == "") != (err == nil) || c2.Code != c.Code {
			t.Fatalf("crsMember(%s) = %v %q, ParseCRS = %v %v", member, c2, msg, c, err)
		}
	})
}
