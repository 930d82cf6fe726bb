package geo

import (
	"path/filepath"
	"testing"
)

// Paths of the shipped shapes and the fixtures.
var (
	firenzePath = filepath.Join("data", "firenze-metro-municipalities.geojson")
	bariPath    = filepath.Join("data", "bari-metro-municipalities.geojson")
	roadsPath   = filepath.Join("testdata", "roads.geojson")
	sitesPath   = filepath.Join("testdata", "sites.geojson")
)

// istat are the options for the ISTAT municipality files.
var istat = LoadOptions{IDProperty: "com_istat_code"}

func mustLoad(tb testing.TB, path string, kind Kind, opts LoadOptions) *Layer {
	tb.Helper()
	l, err := LoadLayer(path, kind, opts)
	if err != nil {
		tb.Fatalf("load %s: %v", path, err)
	}
	return l
}

// metroLayer is the 82 municipalities of both metropolitan areas.
func metroLayer(tb testing.TB) *Layer {
	tb.Helper()
	l, err := Merge("metro", mustLoad(tb, firenzePath, KindAreas, istat), mustLoad(tb, bariPath, KindAreas, istat))
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

func metroAreas(tb testing.TB) *Areas {
	tb.Helper()
	a, err := NewAreas(metroLayer(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func fixtureRoads(tb testing.TB) *Roads {
	tb.Helper()
	r, err := NewRoads(mustLoad(tb, roadsPath, KindRoads, LoadOptions{}))
	if err != nil {
		tb.Fatal(err)
	}
	return r
}
