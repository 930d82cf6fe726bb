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
	t.Setenv("PONTE_HTTP_TOKEN_BA_CENTRO_02", secrettest.Random(t))
	cfg, err := config.Parse(example, secrettest.ReplacePlaceholders(t, data))
	if err != nil {
		t.Fatal(err)
	}
	areas, roads, sites, profiles := cfg.TwinPaths()
	if len(areas) != 2 || roads == "" || len(sites) < 2 || profiles == "" {
		t.Fatalf("twin paths: %v %q %v %q", areas, roads, sites, profiles)
	}
}
