package buffer_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ponte-city/ponte/edge/buffer"
)

// TestFileModes: the buffer directory is created 0700 and its segments and
// metadata 0600, whatever they hold (readings of the city's devices).
func TestFileModes(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "var", "buffer")
	b, err := buffer.Open(ctx, buffer.Config{Dir: dir, SegmentBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	recs := make([][]byte, 100) // several segments
	for i := range recs {
		recs[i] = make([]byte, 200)
	}
	c, err := b.Append(recs)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Ack(10); err != nil { // writes the metadata
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 3 {
		t.Fatalf("buffer dir holds %d files, want several segments and the metadata", len(ents))
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
