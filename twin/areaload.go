package twin

import (
	"fmt"

	"github.com/ponte-city/ponte/geo"
)

// AreaSpec says where the areas of one file come from: its path, its
// level, and how geo reads it (ID and name properties, the CRS of a file
// without a "crs" member).
type AreaSpec struct {
	Path    string
	Level   string
	Options geo.LoadOptions
}

// LoadAreas loads the area files and merges those of one level into one
// layer: the municipalities become Config.Areas, the other levels
// Config.AreaLevels. Errors name the file (and, from geo, the line).
func LoadAreas(specs []AreaSpec) (municipalities *geo.Layer, levels []AreaLayer, err error) {
	byLevel := map[string][]*geo.Layer{}
	var order []string
	for _, s := range specs {
		if !ValidLevel(s.Level) {
			return nil, nil, fmt.Errorf("twin areas %s: level %q: expected one of %v", s.Path, s.Level, Levels())
		}
		l, err := geo.LoadLayer(s.Path, geo.KindAreas, s.Options)
		if err != nil {
			return nil, nil, fmt.Errorf("twin areas: %w", err)
		}
		if _, ok := byLevel[s.Level]; !ok {
			order = append(order, s.Level)
		}
		byLevel[s.Level] = append(byLevel[s.Level], l)
	}
	for _, lv := range order {
		merged, err := geo.Merge(lv+" areas", byLevel[lv]...)
		if err != nil {
			return nil, nil, fmt.Errorf("twin areas: %w", err)
		}
		if lv == LevelMunicipality {
			municipalities = merged
		} else {
			levels = append(levels, AreaLayer{Level: lv, Layer: merged})
		}
	}
	return municipalities, levels, nil
}
