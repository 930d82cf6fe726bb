package buffer

import (
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/wire"
)

var update = flag.Bool("update", false, "rewrite the golden segment of the current format version")

// goldenEpoch is the epoch of the golden segments.
const goldenEpoch = 0x0123456789abcdef

// goldenRecord is one record of the golden segments: the reading it encodes
// (as the agent stores it, with wire.AppendRecord) and when it was appended.
type goldenRecord struct {
	appended time.Time
	reading  wire.Reading
}

// goldenRecords covers what the frame encoding has cases for: every value
// kind, a bad quality with its reason, an append time before the segment's
// base (the gateway clock stepped back) and a record longer than 127 bytes
// (a two-byte length).
func goldenRecords() []goldenRecord {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	return []goldenRecord{
		{t0, wire.Reading{Device: "cabinet-3", Point: "voltage_l1", Unit: "V", Value: wire.Float(230.4), Time: t0.Add(-20 * time.Millisecond)}},
		{t0, wire.Reading{Device: "cabinet-3", Point: "import_energy", Unit: "kWh", Value: wire.Int(9_007_199_254_740_993), Time: t0.Add(-20 * time.Millisecond)}},
		{t0.Add(1500 * time.Millisecond), wire.Reading{Device: "loop-7", Point: "lane1_occupied", Value: wire.Bool(true), Time: t0.Add(1490 * time.Millisecond)}},
		{t0.Add(1500 * time.Millisecond), wire.Reading{Device: "loop-7", Point: "lane1_intensity", Unit: "1/min", Time: t0.Add(1490 * time.Millisecond),
			Quality: wire.QualityBadComm, Reason: "read input 30001+2 unit 7: i/o timeout"}},
		{t0.Add(-3 * time.Second), wire.Reading{Device: "vms-12", Point: "message", Value: wire.String(strings.Repeat("SLOW DOWN - WORKS AHEAD ", 8)), Time: t0.Add(-3 * time.Second)}},
	}
}

// writeGoldenSegment writes the golden records through a real Buffer into
// dir, in three appends (one per distinct append time), and returns the
// segment file's path. The epoch is fixed by a metadata file written first.
func writeGoldenSegment(t *testing.T, dir string) string {
	t.Helper()
	if err := writeMeta(noSyncFS{}, dir, meta{Epoch: goldenEpoch}); err != nil {
		t.Fatal(err)
	}
	recs := goldenRecords()
	var (
		mu  sync.Mutex
		now time.Time
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	b := openT(t, Config{Dir: dir, FS: noSyncFS{}, Now: clock})
	for i := 0; i < len(recs); {
		mu.Lock()
		now = recs[i].appended
		mu.Unlock()
		var batch [][]byte
		for ; i < len(recs) && recs[i].appended.Equal(now); i++ {
			batch = append(batch, wire.AppendRecord(nil, &recs[i].reading))
		}
		if _, err := b.Append(batch); err != nil {
			t.Fatal(err)
		}
	}
	closeT(t, b)
	segs := segFiles(t, dir)
	if len(segs) != 1 {
		t.Fatalf("%d segments written, want 1", len(segs))
	}
	return segs[0]
}

// TestGoldenSegmentWrite checks that this build writes the current format
// byte for byte as the golden file of its version says; with -update it
// rewrites that file instead.
func TestGoldenSegmentWrite(t *testing.T) {
	data, err := os.ReadFile(writeGoldenSegment(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	path := goldenPath(segVersion)
	if *update {
		if err := os.WriteFile(path, []byte(hex.Dump(data)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.Dump(data); got != string(want) {
		t.Fatalf("segment written differs from %s (run with -update only for a deliberate new version):\n%s", path, got)
	}
}

// goldenPath is the golden segment of format version v.
func goldenPath(v int) string {
	return filepath.Join("testdata", fmt.Sprintf("segment-v%d.hex", v))
}

// undump parses hex.Dump output back into bytes.
func undump(t *testing.T, path string) []byte {
	t.Helper()
	dump, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, line := range strings.Split(strings.TrimSpace(string(dump)), "\n") {
		if len(line) < 10 {
			continue
		}
		b, err := hex.DecodeString(strings.ReplaceAll(line[10:min(len(line), 59)], " ", ""))
		if err != nil {
			t.Fatalf("%s: line %q: %v", path, line, err)
		}
		out = append(out, b...)
	}
	return out
}

// TestGoldenSegmentRead opens a buffer holding only a golden segment, as
// a gateway upgraded with a full buffer finds it, and reads back the
// readings that were appended.
func TestGoldenSegmentRead(t *testing.T) {
	for _, v := range []int{1} {
		t.Run(filepath.Base(goldenPath(v)), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, segName(1)), undump(t, goldenPath(v)), 0o600); err != nil {
				t.Fatal(err)
			}
			b := openT(t, Config{Dir: dir, FS: noSyncFS{}})
			got := readAll(t, b, 0)
			closeT(t, b)
			if b.epoch != goldenEpoch {
				t.Errorf("epoch %x, want %x", b.epoch, uint64(goldenEpoch))
			}
			want := goldenRecords()
			if len(got) != len(want) {
				t.Fatalf("read %d records, want %d", len(got), len(want))
			}
			for i, r := range got {
				if r.Seq != uint64(i+1) || !r.Time.Equal(want[i].appended) {
					t.Errorf("record %d: seq %d appended %v, want %d %v", i, r.Seq, r.Time, i+1, want[i].appended)
				}
				rd, err := wire.DecodeRecord(r.Data)
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				w := want[i].reading
				if !rd.Time.Equal(w.Time) {
					t.Errorf("record %d: reading time %v, want %v", i, rd.Time, w.Time)
				}
				rd.Time, w.Time = time.Time{}, time.Time{}
				if rd != w {
					t.Errorf("record %d: %+v, want %+v", i, rd, w)
				}
			}
		})
	}
}
