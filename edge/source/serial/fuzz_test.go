package serial

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

var fuzzFramings = []profile.Framing{crlf, nmeaSE, stxEtx, {Start: "<<", End: ">>", MaxLength: 8}}

// seedLines returns the lines of every fixture, as seeds.
func seedLines(f *testing.F) []string {
	var lines []string
	for _, fx := range fixtures {
		data, err := os.ReadFile(filepath.Join("testdata", fx.file))
		if err != nil {
			f.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")...)
	}
	return lines
}

// FuzzFramer checks that the framer never panics, never hands on a frame
// it should have dropped, keeps its memory bounded, and frames a stream
// the same however it is cut into chunks.
func FuzzFramer(f *testing.F) {
	for _, l := range seedLines(f) {
		f.Add([]byte(l+"\r\n"+l+"\r\n"), uint8(0), []byte{3, 1, 7})
		f.Add([]byte("xx$"+l+"\r\n$"+l), uint8(1), []byte{5})
	}
	f.Add([]byte("\x00\x02T=1\x03\xff\x02\x02T=2\x03"), uint8(2), []byte{1})
	f.Add([]byte("<<a>><<0123456789>><<b<<c>"+">"), uint8(3), []byte{2, 1})
	f.Fuzz(func(t *testing.T, data []byte, mode uint8, cuts []byte) {
		fr := fuzzFramings[int(mode)%len(fuzzFramings)]
		whole, wst, wf := collect(t, fr, data)
		var chunks [][]byte
		rest := data
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if len(cuts) > 0 {
				n = min(n, 1+int(cuts[i%len(cuts)]))
			}
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		split, sst, sf := collect(t, fr, chunks...)
		if fmt.Sprint(whole) != fmt.Sprint(split) || wst != sst || wf.Pending() != sf.Pending() {
			t.Fatalf("chunking changed the result:\nwhole %q %+v pending %d\nsplit %q %+v pending %d", whole, wst, wf.Pending(), split, sst, sf.Pending())
		}
		end := fr.End + fr.Terminator
		for _, fm := range whole {
			if len(fm) == 0 || len(fm) > fr.MaxLength || strings.Contains(fm, end) {
				t.Fatalf("frame %q: empty, longer than %d or holding the end %q", fm, fr.MaxLength, end)
			}
			for i := 0; i < len(fm); i++ {
				if garbage(fm[i]) {
					t.Fatalf("frame %q holds garbage byte %#x", fm, fm[i])
				}
			}
		}
		if p := wf.Pending(); p > fr.MaxLength+len(end)+len(fr.Start) {
			t.Fatalf("%d bytes pending, more than a frame", p)
		}
		if wst.Frames != len(whole) {
			t.Fatalf("stats say %d frames, %d handed on", wst.Frames, len(whole))
		}
	})
}

var fuzzProfiles = []func() *profile.Profile{weatherProfile, intervalProfile, vehicleProfile, airProfile}

// FuzzParseLine checks that the line parser never panics and that what it
// returns is consistent: errors are the documented ones, good readings are
// usable, bad ones say why.
func FuzzParseLine(f *testing.F) {
	for _, l := range seedLines(f) {
		for i := range fuzzProfiles {
			f.Add(l, uint8(i))
		}
	}
	f.Add("I,060,99,1,1e308,1,", uint8(1))
	f.Add("V;;;;;;;;", uint8(2))
	parsers := make([]*lineParser, len(fuzzProfiles))
	for i, p := range fuzzProfiles {
		parsers[i] = mustParser(f, p())
	}
	at := time.Unix(1715674500, 0)
	f.Fuzz(func(t *testing.T, line string, which uint8) {
		p := parsers[int(which)%len(parsers)]
		rs, rec, err := p.parseLine(line, at, nil)
		switch {
		case err == nil:
		case errors.Is(err, ErrUnmatched):
			if len(rs) != 0 || rec != "" {
				t.Fatalf("unmatched line gave record %q and %d readings", rec, len(rs))
			}
			return
		case errors.Is(err, ErrDecode):
		default:
			t.Fatalf("unexpected error %v", err)
		}
		if rec == "" {
			t.Fatalf("readings without a record")
		}
		bad := 0
		for _, r := range rs {
			if r.Device != "dev1" || !r.Time.Equal(at) {
				t.Fatalf("reading %+v: wrong device or time", r)
			}
			if r.Quality.Good() != (r.Reason == "") {
				t.Fatalf("reading %s: quality %s with reason %q", r.Point, r.Quality, r.Reason)
			}
			if r.Quality == wire.QualityBadDecode {
				bad++
			}
			if r.Quality.Good() && r.Value.Kind == wire.KindFloat && (math.IsNaN(r.Value.F) || math.IsInf(r.Value.F, 0)) {
				t.Fatalf("reading %s: good but %v", r.Point, r.Value.F)
			}
		}
		if bad > 0 && err == nil || bad == 0 && err != nil && len(rs) > 0 {
			t.Fatalf("%d bad_decode readings of %d but error %v", bad, len(rs), err)
		}
	})
}
