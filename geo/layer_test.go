package geo

import (
	"errors"
	"strings"
	"testing"

	"github.com/paulmach/orb"
)

func TestLoadRealShapes(t *testing.T) {
	tests := []struct {
		path               string
		polygons, multi    int
		holes              int
		firstID, firstName string
		someID, someName   string
	}{
		{firenzePath, 41, 0, 0, "048001", "Bagno a Ripoli", "048017", "Firenze"},
		{bariPath, 30, 11, 7, "072001", "Acquaviva delle Fonti", "072006", "Bari"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			l := mustLoad(t, tt.path, KindAreas, istat)
			if len(l.Features) != 41 {
				t.Fatalf("%d features, want 41", len(l.Features))
			}
			var polys, multi, holes int
			byID := map[string]Feature{}
			for _, f := range l.Features {
				switch g := f.Geometry.(type) {
				case orb.Polygon:
					polys++
					if len(g) > 1 {
						holes++
					}
				case orb.MultiPolygon:
					multi++
				default:
					t.Errorf("%s: geometry %T", f.ID, g)
				}
				if f.Bound != f.Geometry.Bound() {
					t.Errorf("%s: bound %v, geometry bound %v", f.ID, f.Bound, f.Geometry.Bound())
				}
				if !l.Bound.Contains(f.Bound.Min) || !l.Bound.Contains(f.Bound.Max) {
					t.Errorf("%s: bound %v outside layer bound %v", f.ID, f.Bound, l.Bound)
				}
				byID[f.ID] = f
			}
			if polys != tt.polygons || multi != tt.multi || holes != tt.holes {
				t.Errorf("%d polygons (%d with holes), %d multipolygons; want %d (%d), %d", polys, holes, multi, tt.polygons, tt.holes, tt.multi)
			}
			if f := l.Features[0]; f.ID != tt.firstID || f.Name != tt.firstName {
				t.Errorf("first feature %s %q, want %s %q", f.ID, f.Name, tt.firstID, tt.firstName)
			}
			if f := byID[tt.someID]; f.Name != tt.someName || f.Props["prov_acr"] == nil {
				t.Errorf("feature %s: name %q props %v", tt.someID, f.Name, f.Props)
			}
			if l.Name != tt.path || l.Kind != KindAreas {
				t.Errorf("layer %q kind %v", l.Name, l.Kind)
			}
		})
	}
}

func TestParseLayerAccepts(t *testing.T) {
	const sq = `[[11.25,43.77],[11.26,43.77],[11.26,43.78],[11.25,43.78],[11.25,43.77]]`
	const sqCW = `[[11.25,43.77],[11.25,43.78],[11.26,43.78],[11.26,43.77],[11.25,43.77]]`
	const hole = `[[11.252,43.772],[11.254,43.772],[11.254,43.774],[11.252,43.774],[11.252,43.772]]`
	fc := func(extra, feats string) string {
		return `{"type":"FeatureCollection",` + extra + `"features":[` + feats + `]}`
	}
	tests := []struct {
		name   string
		kind   Kind
		opts   LoadOptions
		data   string
		id     string
		fname  string
		typ    string
		points int // positions in the geometry
	}{
		{"polygon with hole", KindAreas, LoadOptions{}, fc("", `{"type":"Feature","id":"a","properties":{"name":"A"},"geometry":{"type":"Polygon","coordinates":[`+sq+`,`+hole+`]}}`), "a", "A", "Polygon", 10},
		{"clockwise ring", KindAreas, LoadOptions{}, fc("", `{"type":"Feature","id":"a","geometry":{"type":"Polygon","coordinates":[`+sqCW+`]}}`), "a", "", "Polygon", 5},
		{"multipolygon", KindAreas, LoadOptions{}, fc("", `{"type":"Feature","id":7,"properties":null,"geometry":{"type":"MultiPolygon","coordinates":[[`+sq+`],[`+sqCW+`,`+hole+`]]}}`), "7", "", "MultiPolygon", 15},
		{"crs84 member", KindAreas, LoadOptions{}, fc(`"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},`, `{"type":"Feature","id":"a","geometry":{"type":"Polygon","coordinates":[`+sq+`]}}`), "a", "", "Polygon", 5},
		{"epsg 4326 member", KindAreas, LoadOptions{}, fc(`"crs":{"type":"name","properties":{"name":"EPSG:4326"}},`, `{"type":"Feature","id":"a","geometry":{"type":"Polygon","coordinates":[`+sq+`]}}`), "a", "", "Polygon", 5},
		{"null crs", KindAreas, LoadOptions{}, fc(`"crs":null,`, `{"type":"Feature","id":"a","geometry":{"type":"Polygon","coordinates":[`+sq+`]}}`), "a", "", "Polygon", 5},
		{"linestring", KindRoads, LoadOptions{}, fc("", `{"type":"Feature","id":"r","properties":{"name":"Via"},"geometry":{"type":"LineString","coordinates":[[11.25,43.77],[11.26,43.78]]}}`), "r", "Via", "LineString", 2},
		{"multilinestring", KindRoads, LoadOptions{}, fc("", `{"type":"Feature","id":"r","geometry":{"type":"MultiLineString","coordinates":[[[11.25,43.77],[11.26,43.78]],[[11.26,43.78],[11.27,43.78],[11.28,43.79]]]}}`), "r", "", "MultiLineString", 5},
		{"point with altitude", KindSites, LoadOptions{}, fc("", `{"type":"Feature","id":"s","geometry":{"type":"Point","coordinates":[11.25,43.77,49.5]}}`), "s", "", "Point", 1},
		{"numeric id property", KindSites, LoadOptions{IDProperty: "code", NameProperty: "label"}, fc("", `{"type":"Feature","properties":{"code":48001,"label":"Uno"},"geometry":{"type":"Point","coordinates":[11.25,43.77]}}`), "48001", "Uno", "Point", 1},
		{"string id property over id member", KindSites, LoadOptions{IDProperty: "code"}, fc("", `{"type":"Feature","id":"ignored","properties":{"code":"048001"},"geometry":{"type":"Point","coordinates":[11.25,43.77]}}`), "048001", "", "Point", 1},
		{"byte order mark", KindSites, LoadOptions{}, "\xef\xbb\xbf" + fc("", `{"type":"Feature","id":"s","geometry":{"type":"Point","coordinates":[11.25,43.77]}}`), "s", "", "Point", 1},
		{"unknown members ignored", KindSites, LoadOptions{}, fc(`"name":"layer","bbox":[0,0,1,1],`, `{"type":"Feature","id":"s","extra":{"a":[1,2]},"geometry":{"type":"Point","coordinates":[-180,-90]}}`), "s", "", "Point", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseLayer("test.geojson", []byte(tt.data), tt.kind, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Features) != 1 {
				t.Fatalf("%d features, want 1", len(l.Features))
			}
			f := l.Features[0]
			if f.ID != tt.id || f.Name != tt.fname || f.Geometry.GeoJSONType() != tt.typ {
				t.Errorf("got id %q name %q type %s, want %q %q %s", f.ID, f.Name, f.Geometry.GeoJSONType(), tt.id, tt.fname, tt.typ)
			}
			if n := countPoints(f.Geometry); n != tt.points {
				t.Errorf("%d positions, want %d", n, tt.points)
			}
			if l.Bound != f.Bound {
				t.Errorf("layer bound %v, feature bound %v", l.Bound, f.Bound)
			}
		})
	}
}

func countPoints(g orb.Geometry) int {
	switch g := g.(type) {
	case orb.Point:
		return 1
	case orb.LineString:
		return len(g)
	case orb.Ring:
		return len(g)
	case orb.MultiLineString:
		n := 0
		for _, l := range g {
			n += len(l)
		}
		return n
	case orb.Polygon:
		n := 0
		for _, r := range g {
			n += len(r)
		}
		return n
	case orb.MultiPolygon:
		n := 0
		for _, p := range g {
			n += countPoints(p)
		}
		return n
	}
	return -1
}

func TestParseLayerSentinels(t *testing.T) {
	pt := func(coords string) string {
		return `{"type":"FeatureCollection","features":[{"type":"Feature","id":"s","geometry":{"type":"Point","coordinates":` + coords + `}}]}`
	}
	tests := []struct {
		name string
		kind Kind
		data string
		want error
	}{
		{"syntax", KindSites, `{"type":`, ErrSyntax},
		{"empty input", KindSites, ``, ErrSyntax},
		{"structure", KindSites, `{"type":"Feature"}`, ErrStructure},
		{"features not array", KindSites, `{"type":"FeatureCollection","features":{"a":[1]}}`, ErrStructure},
		{"features twice", KindSites, `{"type":"FeatureCollection","features":[],"features":[]}`, ErrStructure},
		{"crs", KindSites, `{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:3857"}},"features":[]}`, ErrCRS},
		{"crs link", KindSites, `{"type":"FeatureCollection","crs":{"type":"link","properties":{"href":"x"}},"features":[]}`, ErrCRS},
		{"coordinates", KindSites, pt(`[1e400,1]`), ErrCoordinates},
		{"coordinates short", KindSites, pt(`[1]`), ErrCoordinates},
		{"coordinates nested", KindSites, pt(`[[1,2]]`), ErrCoordinates},
		{"geometry", KindAreas, pt(`[1,2]`), ErrGeometry},
		{"id", KindSites, `{"type":"FeatureCollection","features":[{"type":"Feature","id":true,"geometry":{"type":"Point","coordinates":[1,2]}}]}`, ErrID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLayer("x.geojson", []byte(tt.data), tt.kind, LoadOptions{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want one that is %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "x.geojson:") {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
	}
}

func TestParseLayerMaxErrors(t *testing.T) {
	var feats []string
	for i := 0; i < 7; i++ {
		feats = append(feats, `{"type":"Feature","id":"dup","geometry":{"type":"Point","coordinates":[1,2]}}`)
	}
	data := `{"type":"FeatureCollection","features":[` + strings.Join(feats, ",\n") + `]}`
	tests := []struct {
		max, listed, more int
	}{
		{0, 6, 0}, // default 20
		{1, 1, 5},
		{3, 3, 3},
		{6, 6, 0},
	}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			_, err := ParseLayer("x", []byte(data), KindSites, LoadOptions{MaxErrors: tt.max})
			var le *LayerError
			if !errors.As(err, &le) {
				t.Fatalf("error %v, want *LayerError", err)
			}
			if len(le.Problems) != tt.listed || le.More != tt.more {
				t.Errorf("%d listed, %d more; want %d, %d", len(le.Problems), le.More, tt.listed, tt.more)
			}
			if p := le.Problems[0]; p.Line != 2 || p.Feature != 1 {
				t.Errorf("first problem at line %d feature %d, want line 2 feature 1", p.Line, p.Feature)
			}
		})
	}
}

func TestLoadOptionsAndKind(t *testing.T) {
	good := []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","id":"s","geometry":{"type":"Point","coordinates":[1,2]}}]}`)
	tests := []struct {
		name string
		kind Kind
		opts LoadOptions
		want string
	}{
		{"negative max errors", KindSites, LoadOptions{MaxErrors: -1}, "max_errors -1"},
		{"negative max bytes", KindSites, LoadOptions{MaxBytes: -1}, "max_bytes -1"},
		{"too large", KindSites, LoadOptions{MaxBytes: 10}, "more than the 10 allowed"},
		{"unknown kind", Kind(9), LoadOptions{}, "Kind(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLayer("x", good, tt.kind, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	for _, k := range []Kind{KindAreas, KindRoads, KindSites} {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := ParseKind("lines"); err == nil {
		t.Error("ParseKind(lines) succeeded")
	}
	if _, err := LoadLayer("testdata/does-not-exist.geojson", KindSites, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "does-not-exist") {
		t.Errorf("missing file: %v", err)
	}
}

func TestMerge(t *testing.T) {
	fi := mustLoad(t, firenzePath, KindAreas, istat)
	ba := mustLoad(t, bariPath, KindAreas, istat)
	m, err := Merge("metro", fi, ba)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Features) != 82 || m.Features[41].ID != ba.Features[0].ID {
		t.Errorf("%d features, features[41] %s", len(m.Features), m.Features[41].ID)
	}
	if m.Bound != fi.Bound.Union(ba.Bound) {
		t.Errorf("bound %v", m.Bound)
	}
	if _, err := Merge("twice", fi, fi); !errors.Is(err, ErrID) {
		t.Errorf("duplicate IDs: %v", err)
	}
	roads := mustLoad(t, roadsPath, KindRoads, LoadOptions{})
	if _, err := Merge("mixed", fi, roads); !errors.Is(err, ErrKind) {
		t.Errorf("mixed kinds: %v", err)
	}
	if _, err := Merge("none"); !errors.Is(err, ErrKind) {
		t.Errorf("no layers: %v", err)
	}
}

// TestFixturesInTheirCity checks the hand-made roads and sites against the
// ISTAT shapes: every vertex lies in the city its ID says.
func TestFixturesInTheirCity(t *testing.T) {
	areas := metroAreas(t)
	city := map[string]string{"FI": "Firenze", "FS": "Fiesole", "BA": "Bari"}
	check := func(id string, p orb.Point) {
		key := strings.Split(strings.TrimPrefix(id, "S-"), "-")[0]
		a, ok := areas.Locate(p)
		if !ok || a.Name != city[key] {
			t.Errorf("%s vertex %v is in %q (found %v), want %s", id, p, a.Name, ok, city[key])
		}
	}
	for _, f := range mustLoad(t, roadsPath, KindRoads, LoadOptions{}).Features {
		for _, p := range f.Geometry.(orb.LineString) {
			check(f.ID, p)
		}
	}
	for _, f := range mustLoad(t, sitesPath, KindSites, LoadOptions{}).Features {
		check(f.ID, f.Geometry.(orb.Point))
	}
}
