package twin

import (
	"fmt"
	"slices"
	"strings"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/geo"
)

// Area levels: how a city is divided. A site belongs to at most one area
// of each level (the one containing it), and the indicators are computed
// for every area of every level.
const (
	// LevelCity is the whole city or metropolitan area.
	LevelCity = "city"
	// LevelMunicipality is the municipalities (comuni, ISTAT codes).
	LevelMunicipality = "municipality"
	// LevelDistrict is the districts a city draws inside a municipality
	// (Firenze's quartieri, Bari's municipi).
	LevelDistrict = "district"
)

// Levels lists the area levels from the coarsest to the finest.
func Levels() []string { return []string{LevelCity, LevelMunicipality, LevelDistrict} }

// ValidLevel says whether s is one of Levels.
func ValidLevel(s string) bool { return slices.Contains(Levels(), s) }

// An AreaLayer is the areas of one level.
type AreaLayer struct {
	// Level is one of Levels.
	Level string
	// Layer holds the areas.
	Layer *geo.Layer
}

// areaLevel is one level's areas, indexed for locating sites.
type areaLevel struct {
	name   string
	locate *geo.Areas
	byName map[string]*node // lower-case area name -> area
}

// areaLayers returns the configured levels from the coarsest to the
// finest: Config.Areas is the municipalities.
func (c Config) areaLayers() []AreaLayer {
	out := slices.Clone(c.AreaLevels)
	if c.Areas != nil {
		out = append(out, AreaLayer{Level: LevelMunicipality, Layer: c.Areas})
	}
	rank := func(l string) int { return slices.Index(Levels(), l) }
	slices.SortStableFunc(out, func(a, b AreaLayer) int { return rank(a.Level) - rank(b.Level) })
	return out
}

// levelErrors checks the area levels: known level names, layers of areas,
// no level twice.
func (c Config) levelErrors() []error {
	var errs []error
	seen := map[string]bool{}
	if c.Areas != nil {
		seen[LevelMunicipality] = true
	}
	for i, al := range c.AreaLevels {
		p := fmt.Sprintf("area_levels[%d]", i)
		switch {
		case !ValidLevel(al.Level):
			errs = append(errs, fmt.Errorf("%s: level %q: expected one of %s", p, al.Level, strings.Join(Levels(), ", ")))
		case seen[al.Level]:
			errs = append(errs, fmt.Errorf("%s: level %q given twice (Areas are the %s level): merge the files of one level into one layer", p, al.Level, LevelMunicipality))
		}
		seen[al.Level] = true
		if al.Layer == nil {
			errs = append(errs, fmt.Errorf("%s: layer: required", p))
		} else if al.Layer.Kind != geo.KindAreas {
			errs = append(errs, fmt.Errorf("%s: layer %s holds %s, expected areas", p, al.Layer.Name, al.Layer.Kind))
		}
	}
	return errs
}

// addLevels makes the area entities of every level, in level order then
// layer order, and indexes each level for placing sites.
func (t *Twin) addLevels(add func(*node) error) error {
	for _, al := range t.cfg.areaLayers() {
		lv := &areaLevel{name: al.Level, byName: map[string]*node{}}
		var err error
		if lv.locate, err = geo.NewAreas(al.Layer); err != nil {
			return fmt.Errorf("twin: index %s areas: %w", al.Level, err)
		}
		for _, f := range al.Layer.Features {
			n := &node{snap: Entity{ID: f.ID, Type: "AdministrativeArea", Kind: KindArea, Name: f.Name,
				Geometry: f.Geometry, Freshness: Unknown,
				Attrs: map[string]Attr{"level": {Value: al.Level}}}, members: map[Freshness]int{}}
			if err := add(n); err != nil {
				return err
			}
			t.areas = append(t.areas, n)
			t.areaLevel[n] = al.Level
			if _, ok := lv.byName[strings.ToLower(f.Name)]; !ok && f.Name != "" {
				lv.byName[strings.ToLower(f.Name)] = n
			}
		}
		t.levels = append(t.levels, lv)
	}
	return nil
}

// placeAreas puts a site in one area per level: the one Site.Area names
// (by ID or name) at its level, the containing one at the others. Its
// primary area (Entity.Area) is its municipality, or else its area of the
// finest level that has one.
func (t *Twin) placeAreas(n *node, s *Site) {
	n.areas = n.areas[:0]
	var named *node
	if s.Area != "" {
		named = t.areaByIDOrName(s.Area)
		if named == nil {
			t.log.Warn("twin: site area names no area of the layers; placing the site by its location",
				"gateway", s.Gateway, "device", s.Device, "area", s.Area)
		}
	}
	n.area = nil
	for _, lv := range t.levels {
		var a *node
		if named != nil && t.areaLevel[named] == lv.name {
			a = named
		} else if f, ok := lv.locate.Locate(pointOf(s)); ok {
			a = t.byID[f.ID]
		}
		if a == nil {
			continue
		}
		n.areas = append(n.areas, a)
		if n.area == nil || lv.name == LevelMunicipality || t.areaLevel[n.area] != LevelMunicipality {
			n.area = a
		}
	}
}

// pointOf is a site's location.
func pointOf(s *Site) orb.Point { return orb.Point{s.Lon, s.Lat} }
