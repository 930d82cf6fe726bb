package dedup

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ponte-city/ponte/internal/testenv"
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
	if err := tx.Commit(context.Background()); err != nil { // the state file exists from Lock on
		t.Fatal(err)
	}
	tx.Unlock()
	if n := testenv.RequirePrivate(t, dir, 1); n == 0 {
		t.Fatal("state dir holds no file")
	}
}
