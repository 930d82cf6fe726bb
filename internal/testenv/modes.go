package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// RequireMode fails tb for each path whose permission bits are not want.
func RequireMode(tb testing.TB, want os.FileMode, paths ...string) {
	tb.Helper()
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			tb.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			tb.Errorf("%s: mode %#o, want %#o", p, got, want)
		}
	}
}

// RequirePrivate fails tb unless dir and its first parents parents are
// 0700 and every file in dir is 0600; it returns how many files dir holds.
func RequirePrivate(tb testing.TB, dir string, parents int) int {
	tb.Helper()
	for d, i := dir, 0; i <= parents; d, i = filepath.Dir(d), i+1 {
		RequireMode(tb, 0o700, d)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		RequireMode(tb, 0o600, filepath.Join(dir, e.Name()))
	}
	return len(ents)
}
