package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ponte-city/ponte/geo"
	"github.com/ponte-city/ponte/twin"
)

// AreaLayer is one entry of twin.areas: a GeoJSON file (or glob) of areas
// of one level. It is written either as a bare path, which is a layer of
// municipalities in WGS84 keyed by twin.area_id, as before levels:
//
//	areas:
//	  - ../../geo/data/firenze-metro-municipalities.geojson
//
// or as a mapping:
//
//	areas:
//	  - path: quartieri-firenze.geojson
//	    level: district          # city, municipality (default) or district
//	    crs: EPSG:3003           # for files without a "crs" member
//	    id_property: QUARTIERE   # default twin.area_id, else com_istat_code
//	    name_property: NOME      # default name
type AreaLayer struct {
	Path         string `yaml:"path"`
	Level        string `yaml:"level"`
	CRS          string `yaml:"crs"`
	IDProperty   string `yaml:"id_property"`
	NameProperty string `yaml:"name_property"`
}

// areaLayerFields are the keys an AreaLayer mapping may have.
var areaLayerFields = []string{"path", "level", "crs", "id_property", "name_property"}

// UnmarshalYAML implements yaml.Unmarshaler: a path, or a mapping of the
// fields above (unknown keys are an error, as everywhere in the config).
func (a *AreaLayer) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*a = AreaLayer{}
		return n.Decode(&a.Path)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if !slices.Contains(areaLayerFields, k.Value) {
				return fmt.Errorf("line %d: unknown field %q in an areas entry (expected %s)", k.Line, k.Value, strings.Join(areaLayerFields, ", "))
			}
			if v := n.Content[i+1]; v.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: %s: expected a string", v.Line, k.Value)
			}
		}
		type plain AreaLayer
		var p plain
		if err := n.Decode(&p); err != nil {
			return err
		}
		*a = AreaLayer(p)
		return nil
	}
	return fmt.Errorf("line %d: expected a GeoJSON path or a mapping {path, level, crs, id_property, name_property}", n.Line)
}

// validateAreas checks twin.areas: a path that matches files, a known
// level and CRS.
func (c *Config) validateAreas(bad func(path, format string, args ...any)) {
	for i, a := range c.Twin.Areas {
		p := fmt.Sprintf("twin.areas[%d]", i)
		if a.Path == "" {
			bad(p+".path", "required (a GeoJSON file of areas)")
		} else if m, _ := filepath.Glob(c.resolve(a.Path)); len(m) == 0 {
			bad(p, "%q: no such file", a.Path)
		}
		if a.Level != "" && !twin.ValidLevel(a.Level) {
			bad(p+".level", "%q: expected one of %s", a.Level, strings.Join(twin.Levels(), ", "))
		}
		if a.CRS != "" {
			if _, err := geo.ParseCRS(a.CRS); err != nil {
				bad(p+".crs", "%v", err)
			}
		}
	}
}

// TwinAreaLayers returns twin.areas with globs expanded against the
// config file's folder and the defaults filled in (level municipality,
// id_property twin.area_id or com_istat_code), in config order.
func (c *Config) TwinAreaLayers() []twin.AreaSpec {
	if c.Twin == nil {
		return nil
	}
	idDefault := c.Twin.AreaID
	if idDefault == "" {
		idDefault = "com_istat_code"
	}
	var out []twin.AreaSpec
	for _, a := range c.Twin.Areas {
		m, _ := filepath.Glob(c.resolve(a.Path))
		for _, path := range m {
			s := twin.AreaSpec{Path: path, Level: a.Level, Options: geo.LoadOptions{
				IDProperty: a.IDProperty, NameProperty: a.NameProperty, CRS: a.CRS}}
			if s.Level == "" {
				s.Level = twin.LevelMunicipality
			}
			if s.Options.IDProperty == "" {
				s.Options.IDProperty = idDefault
			}
			out = append(out, s)
		}
	}
	return out
}
