package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const shippedProfiles = "../../firmware-profiles"

// TestBadSites runs every testdata/<case>/: site.yaml must fail to load
// with exactly the lines of expected.err. A regression case is a new folder.
func TestBadSites(t *testing.T) {
	paths, err := filepath.Glob("testdata/*/site.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no test cases: %v", err)
	}
	for _, path := range paths {
		dir := filepath.Dir(path)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, lerr := Parse("site.yaml", data, LoadOptions{Dir: dir, ProfilesDir: shippedProfiles})
			if os.Getenv("PONTE_UPDATE_GOLDEN") != "" && lerr != nil {
				_ = os.WriteFile(filepath.Join(dir, "expected.err"), []byte(lerr.Error()+"\n"), 0o644)
			}
			want, err := os.ReadFile(filepath.Join(dir, "expected.err"))
			if err != nil {
				t.Fatal(err)
			}
			if lerr == nil {
				t.Fatalf("loaded without error, want:\n%s", want)
			}
			if got := strings.TrimSpace(lerr.Error()); got != strings.TrimSpace(string(want)) {
				t.Errorf("errors differ\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
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
			s, err := Load(path, LoadOptions{ProfilesDir: shippedProfiles, Offline: true})
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
