package buffer

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRecover writes arbitrary bytes as a segment file (after a valid
// header when the first byte is even, as the whole file when odd) and
// opens the buffer: recovery must not panic, and must keep exactly the
// records before the first frame that does not verify.
func FuzzRecover(f *testing.F) {
	var good []byte
	for i := range 5 {
		good = appendFrame(good, 0, int64(i*10), rec(i))
	}
	f.Add(append([]byte{0}, good...))
	f.Add(append([]byte{0}, good[:len(good)-3]...))
	f.Add(append(append([]byte{0}, good...), make([]byte, 100)...))
	bad := bytes.Clone(good)
	bad[60] ^= 1
	f.Add(append([]byte{0}, bad...))
	f.Add(append([]byte{1}, append(segHeader{epoch: 7, first: 1}.encode(), good...)...))
	f.Add([]byte{1, 'P', 'N', 'T'})

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		file := in[1:]
		if in[0]%2 == 0 {
			file = append(segHeader{epoch: 7, first: 1}.encode(), file...)
		}
		// What a plain parse keeps: the frames before the first bad one.
		var want [][]byte
		if h, err := decodeHeader(file); err == nil && h.first == 1 && h.epoch != 0 {
			for rest := file[headerSize:]; ; {
				d, _, n, st := parseFrame(rest, h.base)
				if st != frameOK {
					break
				}
				want = append(want, d)
				rest = rest[n:]
			}
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), file, 0o644); err != nil {
			t.Fatal(err)
		}
		for range 2 { // recovery is idempotent
			b := openT(t, Config{Dir: dir, FS: noSyncFS{}})
			got := readAll(t, b, 0)
			closeT(t, b)
			if len(got) != len(want) {
				t.Fatalf("kept %d records, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].Seq != uint64(i+1) || !bytes.Equal(got[i].Data, want[i]) {
					t.Fatalf("record %d: seq %d %q, want %q", i, got[i].Seq, got[i].Data, want[i])
				}
			}
		}
	})
}

func TestParseFrameRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		base int64
		ms   int64
	}{
		{"empty record", nil, 0, 0},
		{"reading", rec(1), 1000, 1500},
		{"clock went back", rec(2), 1_700_000_000_000, 1_699_999_000_000},
		{"large", bytes.Repeat([]byte{0xAB}, 70_000), 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := appendFrame(nil, tt.base, tt.ms, tt.data)
			d, ms, n, st := parseFrame(b, tt.base)
			if st != frameOK || n != len(b) || ms != tt.ms || !bytes.Equal(d, tt.data) {
				t.Fatalf("parse: st %d n %d/%d ms %d", st, n, len(b), ms)
			}
			for cut := range len(b) {
				if _, _, _, st := parseFrame(b[:cut], tt.base); st == frameOK {
					t.Fatalf("frame cut at %d parsed", cut)
				}
			}
		})
	}
}
