package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ErrorCases runs a subtest per file matching pattern (e.g.
// "testdata/*/site.yaml"), named by its folder: load must fail, with
// exactly the lines of the folder's expected.err (the folder's path
// removed from the message, so goldens do not depend on where the test
// runs). PONTE_UPDATE_GOLDEN=1 rewrites the goldens. A regression case is
// a new folder.
func ErrorCases(t *testing.T, pattern string, load func(t *testing.T, path string) error) {
	t.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil || len(paths) == 0 {
		t.Fatalf("no test cases match %s: %v", pattern, err)
	}
	for _, path := range paths {
		dir := filepath.Dir(path)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			lerr := load(t, path)
			golden := filepath.Join(dir, "expected.err")
			if lerr == nil {
				want, _ := os.ReadFile(golden)
				t.Fatalf("loaded without error, want:\n%s", want)
			}
			got := strings.ReplaceAll(lerr.Error(), dir+string(filepath.Separator), "")
			if os.Getenv("PONTE_UPDATE_GOLDEN") != "" {
				_ = os.WriteFile(golden, []byte(got+"\n"), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(got) != strings.TrimSpace(string(want)) {
				t.Errorf("errors differ\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
