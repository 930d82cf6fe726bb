package replica

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ponte-city/ponte/wire"
)

func batchOf(gw string, epoch uint64, from, retained uint64, seqs ...uint64) *wire.Batch {
	b := &wire.Batch{Gateway: gw, Epoch: epoch, From: from, Retained: retained}
	for _, s := range seqs {
		b.Seqs = append(b.Seqs, s)
		b.Readings = append(b.Readings, wire.Reading{Device: "d", Point: "p", Value: wire.Float(float64(s)), Time: time.Unix(int64(s), 0)})
	}
	return b
}

// TestMarksApplyOnce: a batch published again (whole, cut differently,
// or overlapping), as the service does after a crash between its publish
// and its commit or after a lost compare-and-swap, gives the twin each
// seq once; the marks survive their encoding (the snapshot).
func TestMarksApplyOnce(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := marks{}
	now := time.Unix(1000, 0)
	applied := map[[2]uint64]int{}
	give := func(b *wire.Batch) {
		fresh, _ := m.take(b, now, log)
		if fresh == nil {
			return
		}
		for i, s := range fresh.Seqs {
			applied[[2]uint64{b.Epoch, s}]++
			if v := fresh.Readings[i].Value.F; v != float64(s) {
				t.Fatalf("seq %d carries the reading of %v", s, v)
			}
		}
	}
	give(batchOf("g", 7, 0, 0, 1, 2, 3, 4, 5))
	give(batchOf("g", 7, 0, 0, 1, 2, 3, 4, 5)) // the same again
	give(batchOf("g", 7, 0, 0, 4, 5, 6, 7))    // cut differently
	give(batchOf("g", 7, 9, 0, 10, 11))        // 9 refused: covered, not carried
	give(batchOf("g", 7, 0, 0, 8))
	give(batchOf("g", 7, 0, 0, 8, 9, 10, 12)) // only 12 is new
	give(batchOf("g", 8, 0, 0, 1, 2))         // another epoch counts apart
	for s := uint64(1); s <= 12; s++ {
		want := 1
		if s == 9 {
			want = 0
		}
		if applied[[2]uint64{7, s}] != want {
			t.Errorf("epoch 7 seq %d applied %d times, want %d", s, applied[[2]uint64{7, s}], want)
		}
	}
	if applied[[2]uint64{8, 1}] != 1 || applied[[2]uint64{8, 2}] != 1 {
		t.Errorf("epoch 8: %v", applied)
	}
	if ep := m["g"][7]; ep.Mark != 12 || len(ep.Ahead) != 0 {
		t.Errorf("epoch 7 marks %+v, want everything up to 12", ep)
	}

	again, err := decodeMarks(m.encode())
	if err != nil {
		t.Fatal(err)
	}
	if fresh, dups := again.take(batchOf("g", 7, 0, 0, 11, 12, 13), now, log); fresh == nil || len(fresh.Seqs) != 1 || fresh.Seqs[0] != 13 || dups != 2 {
		t.Errorf("after decoding, 11-13 gives %+v (%d duplicates), want only 13", fresh, dups)
	}
	if fresh, _ := again.take(batchOf("g", 8, 0, 0, 2, 3), now, log); fresh == nil || len(fresh.Seqs) != 1 || fresh.Seqs[0] != 3 {
		t.Errorf("after decoding, epoch 8 2-3 gives %+v, want only 3", fresh)
	}
	if _, err := decodeMarks([]byte{5, 1}); err == nil {
		t.Error("cut marks decoded")
	}
}
