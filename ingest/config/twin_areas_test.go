package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/twin"
)

// TestTwinAreasBothForms: twin.areas takes bare paths (municipalities in
// WGS84, as before levels) and mappings with a level, a CRS and the ID
// and name properties, in one list; and the layers load and build a twin
// of two levels.
func TestTwinAreasBothForms(t *testing.T) {
	dir, _ := filepath.Abs("../../geo")
	yaml := `influx:
  url: http://i:8086
twin:
  tokens: [Zq8rT2vW9xY4kP7mN3bC5dF6]
  area_id: com_istat_code
  areas:
    - ` + dir + `/data/firenze-metro-municipalities.geojson
    - path: ` + dir + `/testdata/firenze-epsg3003-nocrs.geojson
      level: district
      crs: EPSG:3003
      id_property: id
      name_property: name
`
	c, err := Parse("twin.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	specs := c.TwinAreaLayers()
	if len(specs) != 2 {
		t.Fatalf("specs %+v", specs)
	}
	if s := specs[0]; s.Level != twin.LevelMunicipality || s.Options.IDProperty != "com_istat_code" || s.Options.CRS != "" {
		t.Errorf("bare path: %+v", s)
	}
	if s := specs[1]; s.Level != twin.LevelDistrict || s.Options.IDProperty != "id" || s.Options.CRS != "EPSG:3003" || s.Options.NameProperty != "name" {
		t.Errorf("mapping: %+v", s)
	}
	if paths, _ := c.TwinPaths(); len(paths) != 2 {
		t.Errorf("TwinPaths %v", paths)
	}
	munis, levels, err := twin.LoadAreas(specs)
	if err != nil {
		t.Fatal(err)
	}
	if len(munis.Features) != 41 || len(levels) != 1 || levels[0].Layer.Features[0].ID != "fixture-firenze" || levels[0].Layer.CRS.Code != 3003 {
		t.Fatalf("loaded %d municipalities, levels %+v", len(munis.Features), levels)
	}
	if _, err := twin.New(twin.Config{Areas: munis, AreaLevels: levels}); err != nil {
		t.Fatal(err)
	}
}

func TestTwinAreasErrors(t *testing.T) {
	dir, _ := filepath.Abs("../../geo/data")
	file := dir + "/firenze-metro-municipalities.geojson"
	base := "influx:\n  url: http://i:8086\ntwin:\n  tokens: [Zq8rT2vW9xY4kP7mN3bC5dF6]\n  areas:\n"
	for name, tc := range map[string]struct{ entry, want string }{
		"bad level":     {"    - path: " + file + "\n      level: quartiere\n", `twin.areas[0].level: "quartiere": expected one of city, municipality, district`},
		"bad crs":       {"    - path: " + file + "\n      crs: EPSG:3857\n", `twin.areas[0].crs: CRS "EPSG:3857" (EPSG:3857 WGS 84 / Pseudo-Mercator) is not supported: supported are EPSG 3003, 3004`},
		"unknown key":   {"    - path: " + file + "\n      srs: EPSG:3003\n", `unknown field "srs" in an areas entry (expected path, level, crs, id_property, name_property)`},
		"no path":       {"    - level: district\n", `twin.areas[0].path: required`},
		"missing file":  {"    - path: /nonexistent.geojson\n      level: district\n", `twin.areas[0]: "/nonexistent.geojson": no such file`},
		"list as entry": {"    - [a, b]\n", `expected a GeoJSON path or a mapping`},
	} {
		_, err := Parse("bad.yaml", []byte(base+tc.entry))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", name, err, tc.want)
		}
	}
}
