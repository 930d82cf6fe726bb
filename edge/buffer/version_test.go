package buffer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestOpenRefusesUnknownVersion opens each testdata/version/<case> folder
// (segment files as hex dumps, *.seg.hex) and expects Open to fail with
// expected.err ($DIR standing for the buffer directory), leaving every file
// as it was.
func TestOpenRefusesUnknownVersion(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "version", "*"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, c := range cases {
		t.Run(filepath.Base(c), func(t *testing.T) {
			dumps, err := filepath.Glob(filepath.Join(c, "*"+segSuffix+".hex"))
			if err != nil || len(dumps) == 0 {
				t.Fatalf("no segments in %s: %v", c, err)
			}
			want, err := os.ReadFile(filepath.Join(c, "expected.err"))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			for _, d := range dumps {
				name := strings.TrimSuffix(filepath.Base(d), ".hex")
				if err := os.WriteFile(filepath.Join(dir, name), undump(t, d), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before := dirContents(t, dir)
			b, err := Open(context.Background(), Config{Dir: dir, FS: noSyncFS{}, Registerer: prometheus.NewRegistry()})
			if err == nil {
				closeT(t, b)
				t.Fatal("opened a buffer with a segment of an unknown version")
			}
			if got, want := strings.ReplaceAll(err.Error(), dir, "$DIR"), strings.TrimSpace(string(want)); got != want {
				t.Errorf("error\n%s\nwant\n%s", got, want)
			}
			var ve *VersionError
			if !errors.Is(err, ErrUnknownVersion) || !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *VersionError", err)
			}
			if ve.Offset != 4 || !reflect.DeepEqual(ve.Reads, []int{segVersion}) {
				t.Errorf("offset %d reads %v, want 4 and [%d]", ve.Offset, ve.Reads, segVersion)
			}
			if after := dirContents(t, dir); !reflect.DeepEqual(after, before) {
				t.Errorf("refused Open changed the directory:\n%v\nwas\n%v", keys(after), keys(before))
			}
		})
	}
}

// dirContents maps each file name in dir to its content.
func dirContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(data)
	}
	return out
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
