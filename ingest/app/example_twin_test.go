package app_test

import (
	"testing"

	"github.com/ponte-city/ponte/ingest/config"
)

// TestShippedTwinConfig: the example config's twin section names files
// that exist, and they load into a twin (the Bari and Firenze shapes, the
// example sites).
func TestShippedTwinConfig(t *testing.T) {
	cfg, err := config.Load("../../deploy/ingest/ponte-ingest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	areas, roads, sites, profiles := cfg.TwinPaths()
	if len(areas) != 2 || roads == "" || len(sites) < 2 || profiles == "" {
		t.Fatalf("twin paths: %v %q %v %q", areas, roads, sites, profiles)
	}
}
