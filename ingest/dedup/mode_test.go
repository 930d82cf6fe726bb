package dedup

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestStateFileModes: the state directory is created 0700 and the
// gateways' state files 0600: they tell which gateways exist and how far
// each got, which is nobody else's business.
func TestStateFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "ingest")
	s := open(t, dir)
	tx, err := s.Lock(context.Background(), "gw-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil { // the state file exists from Lock on
		t.Fatal(err)
	}
	tx.Unlock()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %#o, want 0700", d, fi.Mode().Perm())
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("state dir holds %v (%v)", ents, err)
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %#o, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
}
