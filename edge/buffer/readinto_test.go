package buffer

import (
	"bytes"
	"testing"
)

// TestReadIntoReusesMemory reads the same records as Read, and a second
// read into the memory of the first allocates no new arena once the first
// was large enough.
func TestReadIntoReusesMemory(t *testing.T) {
	b := openT(t, Config{Dir: t.TempDir()})
	defer closeT(t, b)
	appendN(t, b, 1, 3000)
	var recs []Record
	var arena []byte
	for from, want := uint64(1), 1; from <= 3000; from += 1000 {
		var err error
		recs, arena, err = b.ReadInto(from, 1000, 0, recs, arena)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1000 {
			t.Fatalf("read from %d: %d records, want 1000", from, len(recs))
		}
		for i, r := range recs {
			if r.Seq != from+uint64(i) || !bytes.Equal(r.Data, rec(want+i)) {
				t.Fatalf("read from %d: record %d is %d %q, want %d %q", from, i, r.Seq, r.Data, from+uint64(i), rec(want+i))
			}
		}
		want += 1000
	}
	before := &arena[:1][0]
	allocs := testing.AllocsPerRun(10, func() {
		var err error
		if recs, arena, err = b.ReadInto(1001, 1000, 0, recs, arena); err != nil || len(recs) != 1000 {
			t.Fatalf("read: %d records, %v", len(recs), err)
		}
	})
	if &arena[:1][0] != before {
		t.Error("ReadInto replaced an arena that was large enough")
	}
	// The snapshot of segments and the open file remain; the records'
	// memory does not.
	if allocs > 8 {
		t.Errorf("ReadInto of 1000 records: %.0f allocations, want at most 8", allocs)
	}
}
