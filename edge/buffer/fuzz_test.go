package buffer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// FuzzRecover writes arbitrary bytes as a segment file (after a valid
// header when the first byte is 0 mod 4, after a header of the version
// in[1] with a checksum that verifies when 2 mod 4, as the whole file
// otherwise) and opens the buffer: recovery must not panic; it must refuse
// a header of a version this build does not read, naming it and changing
// nothing, and otherwise keep exactly the records before the first frame
// that does not verify.
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
	f.Add(append([]byte{2, 1}, good...))
	f.Add(append([]byte{2, 2}, good...))
	f.Add(append([]byte{6, 0}, good...))
	f.Add([]byte{1, 'P', 'N', 'T', 'B', 9})
	f.Add(append([]byte{1}, append(versionedHeader(17), good...)...))

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		file := in[1:]
		switch in[0] % 4 {
		case 0:
			file = append(segHeader{epoch: 7, first: 1}.encode(), file...)
		case 2:
			if len(file) == 0 {
				return
			}
			file = append(versionedHeader(file[0]), file[1:]...)
		}
		// Refused: the magic, then a version other than 1 that is not a
		// flipped version byte of a version-1 header.
		refuse := len(file) > 4 && string(file[:4]) == segMagic && file[4] != 1
		if refuse && len(file) >= headerSize {
			h := bytes.Clone(file[:headerSize])
			h[4] = 1
			_, err := decodeHeader(h)
			refuse = err != nil
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
		path := filepath.Join(dir, segName(1))
		if err := os.WriteFile(path, file, 0o644); err != nil {
			t.Fatal(err)
		}
		for range 2 { // recovery is idempotent
			b, err := Open(context.Background(), Config{Dir: dir, FS: noSyncFS{}, Registerer: prometheus.NewRegistry()})
			if refuse {
				var ve *VersionError
				if !errors.As(err, &ve) || ve.Path != path || ve.Version != int(file[4]) {
					t.Fatalf("open of version %d: %v, want a *VersionError naming %s", file[4], err, path)
				}
				if got, _ := os.ReadFile(path); !bytes.Equal(got, file) {
					t.Fatal("refused segment changed")
				}
				continue
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
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

// versionedHeader is a version-1 header (epoch 7, first 1) carrying
// version v, with a checksum that verifies over it.
func versionedHeader(v byte) []byte {
	h := segHeader{epoch: 7, first: 1}.encode()
	h[versionOffset] = v
	binary.LittleEndian.PutUint32(h[headerSize-4:], crc32.Checksum(h[:headerSize-4], castagnoli))
	return h
}

// FuzzDecodeHeader checks the versioned header decoder on arbitrary bytes:
// no panic; a header it accepts encodes back to the same bytes; a version
// it refuses is reported as found, at its offset, and is not one it reads.
func FuzzDecodeHeader(f *testing.F) {
	f.Add(segHeader{epoch: 7, first: 1, base: 1_700_000_000_000}.encode())
	f.Add(versionedHeader(2))
	f.Add(versionedHeader(0))
	f.Add([]byte("PNTB\x09"))
	f.Add([]byte("PNT"))
	f.Add(make([]byte, headerSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHeader(b)
		var ve *VersionError
		switch {
		case err == nil:
			if got := h.encode(); !bytes.Equal(got, b[:headerSize]) {
				t.Fatalf("header %x decodes as %+v, which encodes as %x", b[:headerSize], h, got)
			}
		case errors.As(err, &ve):
			if ve.Offset != int64(versionOffset) || ve.Version != int(b[versionOffset]) || slices.Contains(readVersions[:], b[versionOffset]) {
				t.Fatalf("header %x: %v", b, err)
			}
		case !errors.Is(err, errBadHeader):
			t.Fatalf("header %x: error %v is neither a version nor damage", b, err)
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
