package buffer

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// fixedNow is a clock that never moves, so every frame has the same size.
func fixedNow() time.Time { return time.UnixMilli(1_700_000_000_000) }

// segFiles lists the segment files of dir in order.
func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

// frameOffsets parses a segment file and returns the offset of each frame
// and the file size.
func frameOffsets(t testing.TB, path string) ([]int64, int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := decodeHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for off := headerSize; ; {
		_, _, n, st := parseFrame(data[off:], h.base)
		if st != frameOK {
			break
		}
		offs = append(offs, int64(off))
		off += n
	}
	return offs, int64(len(data))
}

func segFirst(t testing.TB, path string) uint64 {
	t.Helper()
	first, ok := parseSegName(filepath.Base(path))
	if !ok {
		t.Fatalf("bad segment name %s", path)
	}
	return first
}

func TestRecoverDamage(t *testing.T) {
	const n = 1000
	type want struct {
		kept         int     // records read back, 1..kept
		reason       string  // dropped reason
		records      float64 // dropped records
		bytes        float64 // dropped bytes (recovery only)
		nextSeq      uint64  // first seq of the next append
		afterKeptGap bool    // records after the damaged segment follow
	}
	tests := []struct {
		name   string
		noMeta bool
		// damage changes the files of a closed buffer and returns what
		// recovery and reading must find.
		damage func(t *testing.T, dir string) want
	}{
		{"truncated tail", false, func(t *testing.T, dir string) want {
			segs := segFiles(t, dir)
			last := segs[len(segs)-1]
			offs, size := frameOffsets(t, last)
			cut := size - 10
			truncate(t, last, cut)
			// The metadata knew seq n durable: it is not handed out again.
			return want{kept: n - 1, reason: reasonTorn, records: 1, bytes: float64(cut - offs[len(offs)-1]), nextSeq: n + 1}
		}},
		{"truncated tail without metadata", true, func(t *testing.T, dir string) want {
			segs := segFiles(t, dir)
			last := segs[len(segs)-1]
			offs, size := frameOffsets(t, last)
			truncate(t, last, size-10)
			return want{kept: n - 1, reason: reasonTorn, records: 1, bytes: float64(size - 10 - offs[len(offs)-1]), nextSeq: n}
		}},
		{"zero-filled tail", false, func(t *testing.T, dir string) want {
			segs := segFiles(t, dir)
			appendBytes(t, segs[len(segs)-1], make([]byte, 4096))
			return want{kept: n, reason: reasonZero, records: 0, bytes: 4096, nextSeq: n + 1}
		}},
		{"zero-filled last record without metadata", true, func(t *testing.T, dir string) want {
			segs := segFiles(t, dir)
			last := segs[len(segs)-1]
			offs, size := frameOffsets(t, last)
			at := offs[len(offs)-1]
			writeAt(t, last, make([]byte, size-at), at)
			return want{kept: n - 1, reason: reasonZero, records: 0, bytes: float64(size - at), nextSeq: n}
		}},
		{"flipped bit in the last segment, found by recovery", true, func(t *testing.T, dir string) want {
			segs := segFiles(t, dir)
			last := segs[len(segs)-1]
			first := segFirst(t, last)
			offs, size := frameOffsets(t, last)
			k := len(offs) / 2
			flipBit(t, last, offs[k]+10)
			bad := first + uint64(k)
			return want{kept: int(bad - 1), reason: reasonCRC, records: 1, bytes: float64(size - offs[k]), nextSeq: bad}
		}},
		{"flipped bit in the last segment, found by reading", false, func(t *testing.T, dir string) want {
			segs := segFiles(t, dir)
			last := segs[len(segs)-1]
			first := segFirst(t, last)
			offs, _ := frameOffsets(t, last)
			k := len(offs) / 2
			flipBit(t, last, offs[k]+10)
			bad := first + uint64(k)
			return want{kept: int(bad - 1), reason: reasonCRC, records: float64(n + 1 - bad), nextSeq: n + 1}
		}},
		{"flipped bit in a middle segment", false, func(t *testing.T, dir string) want {
			segs := segFiles(t, dir)
			mid := segs[1]
			first, nextFirst := segFirst(t, mid), segFirst(t, segs[2])
			offs, _ := frameOffsets(t, mid)
			k := len(offs) / 3
			flipBit(t, mid, offs[k]+5)
			bad := first + uint64(k)
			return want{kept: int(bad - 1), reason: reasonCRC, records: float64(nextFirst - bad), nextSeq: n + 1, afterKeptGap: true}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{Dir: dir, SegmentBytes: minSegmentBytes, Now: fixedNow}
			b := openT(t, cfg)
			for i := 0; i < n; i += 100 {
				appendN(t, b, i, 100)
			}
			closeT(t, b)
			if len(segFiles(t, dir)) < 3 {
				t.Fatalf("want at least 3 segments")
			}
			if tt.noMeta {
				if err := os.Remove(filepath.Join(dir, metaName)); err != nil {
					t.Fatal(err)
				}
			}
			w := tt.damage(t, dir)

			b = openT(t, cfg)
			defer closeT(t, b)
			got := readAll(t, b, 0)
			// Damage in the last segment ends the records; damage in a
			// middle one leaves a gap of the lost records.
			wantLen, lost := w.kept, uint64(0)
			if w.afterKeptGap {
				lost = uint64(w.records)
				wantLen = n - int(lost)
			}
			if len(got) != wantLen {
				t.Fatalf("read %d records, want %d", len(got), wantLen)
			}
			for i, r := range got {
				seq := uint64(i + 1)
				if i >= w.kept {
					seq += lost
				}
				if r.Seq != seq || !bytes.Equal(r.Data, rec(int(seq-1))) {
					t.Fatalf("record %d: seq %d %q, want seq %d", i, r.Seq, r.Data, seq)
				}
			}
			if got := dropped(b, w.reason); got != w.records {
				t.Errorf("dropped{%s} = %v records, want %v", w.reason, got, w.records)
			}
			if got := droppedBytes(b, w.reason); got != w.bytes {
				t.Errorf("dropped_bytes{%s} = %v, want %v", w.reason, got, w.bytes)
			}
			// Appends go on, with numbers never given before, and stay
			// readable even after damage in the active segment.
			c := appendN(t, b, int(w.nextSeq-1), 10)
			if c.First != w.nextSeq {
				t.Errorf("next append got seq %d, want %d", c.First, w.nextSeq)
			}
			tail := readAll(t, b, c.First)
			if len(tail) != 10 || tail[0].Seq != c.First || !bytes.Equal(tail[9].Data, rec(int(c.Last-1))) {
				t.Errorf("appended after damage: read %d records", len(tail))
			}
		})
	}
}

func TestRecoverSegmentHeaders(t *testing.T) {
	t.Run("torn new last segment is removed", func(t *testing.T) {
		dir := t.TempDir()
		b := openT(t, Config{Dir: dir, SegmentBytes: minSegmentBytes, Now: fixedNow})
		appendN(t, b, 0, 200)
		closeT(t, b)
		// A crash right after creating the next segment: header cut.
		torn := filepath.Join(dir, segName(201))
		if err := os.WriteFile(torn, []byte("PNT"), 0o644); err != nil {
			t.Fatal(err)
		}
		b = openT(t, Config{Dir: dir, SegmentBytes: minSegmentBytes, Now: fixedNow})
		defer closeT(t, b)
		if got := readAll(t, b, 0); len(got) != 200 {
			t.Fatalf("read %d records, want 200", len(got))
		}
		if _, err := os.Stat(torn); !os.IsNotExist(err) {
			t.Errorf("torn segment still there: %v", err)
		}
		if got := droppedBytes(b, reasonTorn); got != 3 {
			t.Errorf("dropped_bytes{torn} = %v, want 3", got)
		}
		if c := appendN(t, b, 200, 1); c.First != 201 {
			t.Errorf("next seq %d, want 201", c.First)
		}
	})
	// A flipped bit in the version byte of a header that verifies as
	// version 1 is damage too, not a newer format that would stop the
	// buffer (see TestOpenRefusesUnknownVersion).
	for _, c := range []struct {
		name string
		at   int64
	}{
		{"corrupt middle header is set aside", 20},
		{"flipped version byte is damage, set aside", int64(versionOffset)},
	} {
		t.Run(c.name, func(t *testing.T) { testCorruptMiddleHeader(t, c.at) })
	}
	t.Run("unreadable metadata keeps the epoch of the segments", func(t *testing.T) {
		dir := t.TempDir()
		b := openT(t, Config{Dir: dir, Now: fixedNow})
		epoch := b.Epoch()
		appendN(t, b, 0, 50)
		if err := b.Ack(20); err != nil {
			t.Fatal(err)
		}
		closeT(t, b)
		if err := os.WriteFile(filepath.Join(dir, metaName), []byte("{garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
		b = openT(t, Config{Dir: dir, Now: fixedNow})
		defer closeT(t, b)
		if b.Epoch() != epoch {
			t.Errorf("epoch %d, want %d", b.Epoch(), epoch)
		}
		// The ack is lost with the metadata: acked records come back
		// (ingest drops them as duplicates), nothing is lost.
		if got := readAll(t, b, 0); len(got) != 50 {
			t.Errorf("read %d records, want 50", len(got))
		}
	})
	t.Run("fresh directory gets a new epoch", func(t *testing.T) {
		a := openT(t, Config{Dir: t.TempDir()})
		defer closeT(t, a)
		c := openT(t, Config{Dir: t.TempDir()})
		defer closeT(t, c)
		if a.Epoch() == 0 || a.Epoch() == c.Epoch() {
			t.Errorf("epochs %d and %d", a.Epoch(), c.Epoch())
		}
	})
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
}

func writeAt(t *testing.T, path string, data []byte, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
}

func flipBit(t *testing.T, path string, off int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[off] ^= 0x10
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// testCorruptMiddleHeader flips a bit at byte `at` of the second of three
// segments' header: that segment is set aside and its records counted.
func testCorruptMiddleHeader(t *testing.T, at int64) {
	dir := t.TempDir()
	b := openT(t, Config{Dir: dir, SegmentBytes: minSegmentBytes, Now: fixedNow})
	appendN(t, b, 0, 400)
	closeT(t, b)
	segs := segFiles(t, dir)
	flipBit(t, segs[1], at)
	lost := segFirst(t, segs[2]) - segFirst(t, segs[1])
	b = openT(t, Config{Dir: dir, SegmentBytes: minSegmentBytes, Now: fixedNow})
	defer closeT(t, b)
	if got := readAll(t, b, 0); uint64(len(got)) != 400-lost {
		t.Fatalf("read %d records, want %d", len(got), 400-lost)
	}
	if got := dropped(b, reasonHeader); got != float64(lost) {
		t.Errorf("dropped{header} = %v, want %d", got, lost)
	}
	if _, err := os.Stat(segs[1] + ".corrupt"); err != nil {
		t.Errorf("segment not set aside: %v", err)
	}
}
