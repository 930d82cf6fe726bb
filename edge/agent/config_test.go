package agent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ponte-city/ponte/internal/site"
	"github.com/ponte-city/ponte/internal/testenv"
)

const shippedProfiles = "../../firmware-profiles"

// TestBadSites runs every testdata/<case>/: site.yaml must fail to load
// with exactly the lines of expected.err: the checks that need the
// transports, on top of internal/site's.
func TestBadSites(t *testing.T) {
	testenv.ErrorCases(t, "testdata/*/site.yaml", func(t *testing.T, path string) error {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Parse("site.yaml", data, site.Options{Dir: filepath.Dir(path), ProfilesDir: shippedProfiles})
		return err
	})
}

// TestDeploySites loads every example site config shipped in deploy/sites
// against the shipped profiles.
func TestDeploySites(t *testing.T) {
	paths, err := filepath.Glob("../../deploy/sites/*.yaml")
	if err != nil || len(paths) < 2 {
		t.Fatalf("expected at least two example site configs, found %v (%v)", paths, err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			s, err := Load(path, site.Options{ProfilesDir: shippedProfiles, Offline: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Devices) == 0 || len(s.sources) != len(s.Devices) {
				t.Fatalf("%d devices, %d ready for the sources", len(s.Devices), len(s.sources))
			}
			kinds := map[string]bool{}
			for _, d := range s.Devices {
				kinds[string(d.Kind())] = true
				if d.Location == nil || d.Entity == "" {
					t.Errorf("device %s: examples give a location and a twin entity", d.Name)
				}
			}
			if len(kinds) < 2 {
				t.Errorf("example uses only %v; examples should show several transports", kinds)
			}
		})
	}
}
