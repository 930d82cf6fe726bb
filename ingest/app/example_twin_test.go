package app_test

import (
	"os"
	"testing"

	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/internal/secret/secrettest"
)

// TestShippedTwinConfig: the example config's twin section names files
// that exist, and they load into a twin (the Bari and Firenze shapes, the
// example sites).
func TestShippedTwinConfig(t *testing.T) {
	const example = "../../deploy/ingest/ponte-ingest.yaml"
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PONTE_HTTP_TOKEN_BA_MURAT_CAVOUR_PICCINNI", secrettest.Random(t))
	cfg, err := config.Parse(example, secrettest.ReplacePlaceholders(t, data))
	if err != nil {
		t.Fatal(err)
	}
	areas, roads := cfg.TwinPaths()
	if len(areas) != 2 || roads == "" {
		t.Fatalf("twin paths: %v %q", areas, roads)
	}
	// The example sites are the inventory: every device has its type (the
	// profile's category) and area for the InfluxDB tags.
	sites := cfg.Inventory().Sites()
	if len(sites) < 2 {
		t.Fatalf("%d sites, want the example sites of Bari and Firenze", len(sites))
	}
	meta := cfg.Meta()
	for _, s := range sites {
		for _, d := range s.Devices {
			if area, typ := meta(s.Gateway.ID, d.Name); area == "" || typ == "" {
				t.Errorf("%s/%s: area %q type %q", s.Gateway.ID, d.Name, area, typ)
			}
		}
	}
}
