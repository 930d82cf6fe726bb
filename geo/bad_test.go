package geo

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.err from the current messages")

// TestBadLayers loads every testdata/bad/<kind>-<case>.geojson as a layer
// of <kind> and compares the error with <case>.err line by line. A new
// regression case is a new pair of files.
func TestBadLayers(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.geojson"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found %d bad cases in testdata/bad, expected at least 10", len(files))
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".geojson")
		t.Run(name, func(t *testing.T) {
			kind, err := ParseKind(strings.SplitN(name, "-", 2)[0])
			if err != nil {
				t.Fatalf("case name must start with the layer kind: %v", err)
			}
			layer, err := LoadLayer(filepath.ToSlash(path), kind, LoadOptions{})
			if err == nil {
				t.Fatalf("loaded %d features, expected an error", len(layer.Features))
			}
			var le *LayerError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is a %T, expected *LayerError", err, err)
			}
			if len(le.Unwrap()) == 0 {
				t.Errorf("error unwraps to no sentinel")
			}
			errPath := strings.TrimSuffix(path, ".geojson") + ".err"
			got := err.Error() + "\n"
			if *update {
				if err := os.WriteFile(errPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(errPath)
			if err != nil {
				t.Fatalf("read expected message (run with -update to create it): %v", err)
			}
			gotLines := strings.Split(strings.TrimRight(got, "\n"), "\n")
			wantLines := strings.Split(strings.TrimRight(string(want), "\n"), "\n")
			for i := 0; i < max(len(gotLines), len(wantLines)); i++ {
				var g, w string
				if i < len(gotLines) {
					g = gotLines[i]
				}
				if i < len(wantLines) {
					w = wantLines[i]
				}
				if g != w {
					t.Errorf("line %d:\n got: %s\nwant: %s", i+1, g, w)
				}
			}
		})
	}
}
