package site

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: a site config from anywhere (a technician's editor, an
// enrolment request) never panics the parser; what it accepts has every
// device's profile loaded and a position.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../../deploy/sites/*.yaml")
	cases, _ := filepath.Glob("testdata/*/site.yaml")
	for _, p := range append(seeds, cases...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(filepath.Join(dir, "site.yaml"), data, Options{Offline: true, ProfilesDir: shippedProfiles})
		if err != nil {
			return
		}
		for i, d := range s.Devices {
			if d.LoadedProfile() == nil || d.Location == nil || !d.ok {
				t.Fatalf("accepted devices[%d] %+v without its profile or position", i, d)
			}
		}
	})
}
