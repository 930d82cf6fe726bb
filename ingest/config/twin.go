package config

import (
	"path/filepath"

	"github.com/ponte-city/ponte/internal/yamlconf"
)

// Twin configures the digital twin that ingest keeps and serves. Without a
// twin section ingest writes InfluxDB only. Relative paths are taken from
// the config file's folder.
type Twin struct {
	// Areas are GeoJSON files of the areas indicators are computed for,
	// each a path (municipalities in WGS84) or a mapping {path, level,
	// crs, id_property, name_property} (see AreaLayer); the files of one
	// level are merged into one layer.
	Areas []AreaLayer `yaml:"areas"`
	// AreaID is the default feature property holding an area's ID
	// (default com_istat_code, as in the ISTAT shapes).
	AreaID string `yaml:"area_id"`
	// Roads is a GeoJSON file of road segments (optional).
	Roads string `yaml:"roads"`
	// Sites and Profiles are refused: they moved to the top level
	// (Config.Sites), shared with ingest's tags.
	Sites    refused `yaml:"sites"`
	Profiles refused `yaml:"profiles"`
	// StaleFactor: an entity is stale after this many poll intervals
	// without a good reading (default 3).
	StaleFactor float64 `yaml:"stale_factor"`
	// RoadMaxMetres: a site is put on the nearest road segment within this
	// distance (default 50).
	RoadMaxMetres float64 `yaml:"road_max_metres"`
	// IndicatorWindow is the time window of the indicators (default 15m).
	IndicatorWindow yamlconf.Duration `yaml:"indicator_window"`
	// Tokens are the operators' API tokens (the map, entities, the SSE
	// stream, history); the indicators are public.
	Tokens []string `yaml:"tokens"`
	// TokensFile is a file with one token per line instead (blank lines
	// and lines starting with # are skipped); TokensEnv an environment
	// variable with tokens separated by commas.
	TokensFile string `yaml:"tokens_file"`
	TokensEnv  string `yaml:"tokens_env"`
	// TileURL is an optional raster base map for the operators' map
	// (https://.../{z}/{x}/{y}.png); empty: the area shapes alone.
	TileURL string `yaml:"tile_url"`
	// TileAttribution is shown with the base map.
	TileAttribution string `yaml:"tile_attribution"`
	// Alarms configures the alarms (alarms.go).
	Alarms *Alarms `yaml:"alarms"`
	// Public are the citizens' page's and the public API's settings
	// (twin_public.go), directly under twin:.
	Public TwinPublic `yaml:",inline"`
	// Replica feeds the twin from the replicated applied stream (replica.go).
	Replica *Replica `yaml:"replica"`
	// NGSILD configures NGSI-LD subscriptions (ngsild.go).
	NGSILD *NGSILD `yaml:"ngsild"`
}

func (c *Config) validateTwin(bad func(path, format string, args ...any)) {
	t := c.Twin
	if t == nil {
		return
	}
	if len(t.Areas) == 0 {
		bad("twin.areas", "required (expected GeoJSON files of areas, e.g. geo/data/firenze-metro-municipalities.geojson)")
	}
	c.validateAreas(bad)
	if t.Roads != "" {
		if m, _ := filepath.Glob(c.resolve(t.Roads)); len(m) == 0 {
			bad("twin.roads", "%q: no such file", t.Roads)
		}
	}
	if t.StaleFactor < 0 || (t.StaleFactor > 0 && t.StaleFactor < 1) {
		bad("twin.stale_factor", "%g (expected 1 or more)", t.StaleFactor)
	}
	if t.RoadMaxMetres < 0 {
		bad("twin.road_max_metres", "%g (expected metres, 0 or more)", t.RoadMaxMetres)
	}
	if len(t.Tokens) == 0 && t.TokensFile == "" && t.TokensEnv == "" {
		bad("twin.tokens", "required: at least one operator token (the map, the entities, the stream and history need one)")
	}
	c.validateTwinPublic(bad)
	c.validateReplica(bad)
	c.validateNGSILD(bad)
}

// resolve makes a path from the config relative to the config file.
func (c *Config) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || c.doc == nil || c.doc.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.doc.File), p)
}

// TwinPaths returns the twin's area and road files resolved against the
// config file's folder (its sites are Inventory's).
func (c *Config) TwinPaths() (areas []string, roads string) {
	t := c.Twin
	if t == nil {
		return nil, ""
	}
	for _, s := range c.TwinAreaLayers() {
		areas = append(areas, s.Path)
	}
	if t.Roads != "" {
		roads = c.resolve(t.Roads)
	}
	return areas, roads
}
