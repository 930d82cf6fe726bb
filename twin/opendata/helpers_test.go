package opendata

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/twin"
)

// bariConfig is a municipality's catalogue, as a tenant's would be.
func bariConfig() CatalogConfig {
	return CatalogConfig{
		BaseURL:     "https://ponte.example.it",
		Prefix:      "/t/bari",
		Title:       Text{It: "Dati aperti della rete di sensori urbani di Bari", En: "Open data of Bari's urban sensor network"},
		Description: Text{It: "Indicatori urbani per area, aree e storico giornaliero pubblicati da Ponte per il Comune di Bari."},
		Publisher:   Agent{Name: "Comune di Bari", IPACode: "c_a662"},
		Contact:     Contact{Name: "Ufficio Open Data", Email: "opendata@comune.bari.it"},
		Spatial: Spatial{Name: "Bari", Identifier: "http://sws.geonames.org/3182351/",
			BBox: &orb.Bound{Min: orb.Point{16.75, 41.03}, Max: orb.Point{16.99, 41.16}}},
		Keywords: []string{"Bari", "smart city"},
		SitesURL: "https://ponte.example.it/t/bari/opendata/sites.geojson",
	}
}

// fixedCoverage is the coverage of the golden catalogue.
func fixedCoverage() Coverage {
	return Coverage{Since: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		Modified: time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC), LastDaily: time.Date(2026, 5, 3, 0, 0, 0, 0, time.UTC)}
}

// golden compares got with testdata/name; PONTE_UPDATE_GOLDEN=1 rewrites it.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("PONTE_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (PONTE_UPDATE_GOLDEN=1 writes it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (PONTE_UPDATE_GOLDEN=1 rewrites it); got:\n%s", name, got)
	}
}

// fakeSource serves fixed indicators.
type fakeSource struct{ ind twin.Indicators }

func (f *fakeSource) Indicators() twin.Indicators { return f.ind }

func ptr(f float64) *float64 { return &f }
