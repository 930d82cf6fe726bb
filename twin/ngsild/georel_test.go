package ngsild

import (
	"testing"

	"github.com/paulmach/orb"
)

// centre is a point in Bari: P1 lies 111 m from it, Corso Cavour 230 m,
// Lungomare 1,070 m, the gateway 1,770 m, the road in Florence 400 km.
const centre = `[16.8700,41.1240]`

// bariBox is a polygon around the test entities in Bari.
const bariBox = `[[[16.86,41.115],[16.88,41.115],[16.88,41.125],[16.86,41.125],[16.86,41.115]]]`

func TestGeoQueryMatch(t *testing.T) {
	for _, tc := range []struct{ georel, geometry, coords, want string }{
		{"near;maxDistance==250", "Point", centre, "ba-cavour,ba-p1"},
		{"near;maxDistance==120", "Point", centre, "ba-p1"},
		{"near;maxDistance==2000", "Point", centre, "ba-cavour,ba-p1,ba-lungomare,gw-bari-1"},
		{"near;minDistance==250", "Point", centre, "ba-lungomare,gw-bari-1,fi-1"},
		{"near;minDistance==120;maxDistance==1500", "Point", centre, "ba-cavour,ba-lungomare"},
		// The road passes 7 m from this point (between its vertices,
		// each over 500 m away): distance is to the segment.
		{"near;maxDistance==50", "Point", `[11.25,43.7751]`, "fi-1"},
		{"within", "Polygon", bariBox, "ba-cavour,ba-p1"},
		{"intersects", "Polygon", bariBox, "ba-cavour,ba-p1"},
		{"intersects", "Point", `[16.8719,41.1225]`, "ba-cavour"},
		{"intersects", "Point", `[11.25,43.775]`, "fi-1"}, // on the road
		// A box the road crosses without a vertex inside it.
		{"intersects", "Polygon", `[[[11.249,43.77],[11.251,43.77],[11.251,43.78],[11.249,43.78],[11.249,43.77]]]`, "fi-1"},
		{"within", "Polygon", `[[[11.249,43.77],[11.251,43.77],[11.251,43.78],[11.249,43.78],[11.249,43.77]]]`, ""},
		{"within", "Polygon", `[[[11.2,43.7],[11.3,43.7],[11.3,43.8],[11.2,43.8],[11.2,43.7]]]`, "fi-1"},
	} {
		t.Run(tc.georel+" "+tc.coords, func(t *testing.T) {
			g, err := ParseGeoQuery(tc.georel, tc.geometry, tc.coords)
			if err != nil {
				t.Fatal(err)
			}
			if got := short(matching(g)); got != tc.want {
				t.Errorf("matches %q, want %q", got, tc.want)
			}
		})
	}
}

// TestNearIsGeodesic: at 60° N a degree of longitude is half a degree of
// latitude in metres; a planar distance in degrees would rank the two
// points equal.
func TestNearIsGeodesic(t *testing.T) {
	p := orb.Point{10, 60}
	east, north := distance(p, orb.Point{10.01, 60}), distance(p, orb.Point{10, 60.01})
	if east < 540 || east > 570 || north < 1100 || north > 1130 {
		t.Errorf("0.01 deg east = %.0f m (want ~556), north = %.0f m (want ~1113)", east, north)
	}
}

func TestParseGeoQueryBad(t *testing.T) {
	for _, tc := range []struct{ georel, geometry, coords, typ, param, detail string }{
		{"near;maxDistance==10", "", centre, ErrInvalidRequest, "geometry", "missing"},
		{"", "Point", centre, ErrInvalidRequest, "georel", "missing"},
		{"within", "Polygon", "", ErrInvalidRequest, "coordinates", "missing"},
		{"near", "Point", centre, ErrBadRequestData, "georel", "near needs maxDistance"},
		{"near;maxDistance=10", "Point", centre, ErrBadRequestData, "georel", `modifier "maxDistance=10" is not name==value`},
		{"near;maxDistance==-1", "Point", centre, ErrBadRequestData, "georel", "maxDistance must be a number of metres >= 0"},
		{"near;maxDistance==NaN", "Point", centre, ErrBadRequestData, "georel", "maxDistance must be a number"},
		{"near;radius==10", "Point", centre, ErrBadRequestData, "georel", `unknown modifier "radius"`},
		{"within;maxDistance==1", "Polygon", bariBox, ErrBadRequestData, "georel", "within takes no modifier"},
		{"disjoint", "Polygon", bariBox, ErrBadRequestData, "georel", "disjoint is not supported"},
		{"around", "Point", centre, ErrBadRequestData, "georel", `unknown relation "around"`},
		{"near;maxDistance==10", "Polygon", bariBox, ErrInvalidRequest, "geometry", "near needs a Point"},
		{"within", "Point", centre, ErrInvalidRequest, "geometry", "within needs a Polygon"},
		{"intersects", "LineString", `[[1,2],[3,4]]`, ErrBadRequestData, "geometry", "LineString is not supported"},
		{"intersects", "Circle", centre, ErrBadRequestData, "geometry", `unknown geometry "Circle"`},
		{"intersects", "Point", `[16.87]`, ErrBadRequestData, "coordinates", "a position is [lon,lat], found 1 numbers"},
		{"intersects", "Point", `[16.87,41.12,3]`, ErrBadRequestData, "coordinates", "found 3 numbers"},
		{"intersects", "Point", `[41.12,200]`, ErrBadRequestData, "coordinates", "outside lon -180..180, lat -90..90"},
		{"intersects", "Point", `[16.87,`, ErrBadRequestData, "coordinates", "invalid JSON"},
		{"intersects", "Point", `16.87,41.12`, ErrBadRequestData, "coordinates", "invalid JSON at offset 6"},
		{"intersects", "Point", `[[16.87,41.12]]`, ErrBadRequestData, "coordinates", "wrong nesting"},
		{"intersects", "Polygon", `[]`, ErrBadRequestData, "coordinates", "at least one ring"},
		{"intersects", "Polygon", `[[[0,0],[1,0],[0,0]]]`, ErrBadRequestData, "coordinates", "ring 0 has 3 positions, at least 4"},
		{"intersects", "Polygon", `[[[0,0],[1,0],[1,1],[0,1]]]`, ErrBadRequestData, "coordinates", "ring 0 is not closed"},
		{"intersects", "Polygon", `[[[0,0],[1,0],[1,1],[0,0]],[[0,0],[1,0],[1,1],[0,999]]]`, ErrBadRequestData, "coordinates", "ring 1 position 3: position [0,999] is outside"},
	} {
		t.Run(tc.georel+" "+tc.geometry+" "+tc.coords, func(t *testing.T) {
			_, err := ParseGeoQuery(tc.georel, tc.geometry, tc.coords)
			wantProblem(t, err, tc.typ, tc.param, tc.detail)
		})
	}
}

func TestParseGeoQueryNone(t *testing.T) {
	g, err := ParseGeoQuery("", "", "")
	if g != nil || err != nil {
		t.Errorf("got %v, %v; want nil, nil", g, err)
	}
}
