package buffer_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/internal/testenv"
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
	if n := testenv.RequirePrivate(t, dir, 1); n < 3 {
		t.Fatalf("buffer dir holds %d files, want several segments and the metadata", n)
	}
}
