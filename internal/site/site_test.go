package site

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ponte-city/ponte/internal/testenv"
)

// TestBadSites runs every testdata/<case>/: site.yaml must fail to load
// with exactly the lines of expected.err. These are the data checks; the
// cases that need the transports are edge/agent's.
func TestBadSites(t *testing.T) {
	testenv.ErrorCases(t, "testdata/*/site.yaml", func(t *testing.T, path string) error {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Parse("site.yaml", data, Options{Dir: filepath.Dir(path), ProfilesDir: shippedProfiles})
		return err
	})
}
