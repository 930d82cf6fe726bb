package serial

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/internal/profile"
)

// collect feeds chunks to a new framer and returns the frames and stats.
func collect(t testing.TB, fr profile.Framing, chunks ...[]byte) ([]string, FramerStats, *Framer) {
	t.Helper()
	f, err := NewFramer(fr)
	if err != nil {
		t.Fatal(err)
	}
	var frames []string
	var st FramerStats
	for _, c := range chunks {
		st.add(f.Feed(c, func(b []byte) { frames = append(frames, string(b)) }))
	}
	return frames, st, f
}

var (
	crlf   = profile.Framing{Terminator: "\r\n", MaxLength: 16}
	nmeaSE = profile.Framing{Start: "$", End: "\r\n", MaxLength: 16}
	stxEtx = profile.Framing{Start: "\x02", End: "\x03", MaxLength: 16}
)

func TestFramer(t *testing.T) {
	cases := []struct {
		name    string
		framing profile.Framing
		in      string
		frames  []string
		stats   FramerStats
		pending int
	}{
		{name: "lines", framing: crlf, in: "A,1\r\nB,2\r\n",
			frames: []string{"A,1", "B,2"}, stats: FramerStats{Frames: 2}},
		{name: "blank lines dropped", framing: crlf, in: "\r\n\r\nA\r\n\r\n",
			frames: []string{"A"}, stats: FramerStats{Frames: 1}},
		{name: "missing terminator at end stays pending", framing: crlf, in: "A\r\nB,2",
			frames: []string{"A"}, stats: FramerStats{Frames: 1}, pending: 3},
		{name: "half a terminator at end stays pending", framing: crlf, in: "A\r\nB\r",
			frames: []string{"A"}, stats: FramerStats{Frames: 1}, pending: 2},
		{name: "garbage trimmed at ends", framing: crlf, in: "\x00\xff\x13A,1\x00\r\n\nB\r\n",
			frames: []string{"A,1", "B"}, stats: FramerStats{Frames: 2, Noise: 5}},
		{name: "garbage inside drops the frame", framing: crlf, in: "A,1\x002\r\nB\r\n",
			frames: []string{"B"}, stats: FramerStats{Frames: 1, Broken: 1}},
		{name: "tab and UTF-8 kept", framing: crlf, in: "T\t12°C\r\n",
			frames: []string{"T\t12°C"}, stats: FramerStats{Frames: 1}},
		{name: "overlong line dropped, next kept", framing: crlf, in: "0123456789ABCDEFG\r\nA\r\n",
			frames: []string{"A"}, stats: FramerStats{Frames: 1, Overflow: 1}},
		{name: "exactly max length kept", framing: crlf, in: "0123456789ABCDEF\r\n",
			frames: []string{"0123456789ABCDEF"}, stats: FramerStats{Frames: 1}},
		{name: "overlong without end keeps little", framing: crlf, in: strings.Repeat("x", 100),
			stats: FramerStats{Overflow: 1}, pending: 1},
		{name: "start/end: noise before start", framing: nmeaSE, in: "junk$A*00\r\nxx$B\r\n",
			frames: []string{"A*00", "B"}, stats: FramerStats{Frames: 2, Noise: 6}},
		{name: "start/end: start inside frame restarts", framing: nmeaSE, in: "$GPGG$A,1\r\n",
			frames: []string{"A,1"}, stats: FramerStats{Frames: 1, Broken: 1}},
		{name: "start/end: overlong dropped, next kept", framing: nmeaSE, in: "$0123456789ABCDEFG\r\n$A\r\n",
			frames: []string{"A"}, stats: FramerStats{Frames: 1, Overflow: 1}},
		{name: "start/end: overlong restarted by start", framing: nmeaSE, in: "$0123456789ABCDEFG$A\r\n",
			frames: []string{"A"}, stats: FramerStats{Frames: 1, Overflow: 1}},
		{name: "start/end: unfinished frame pending", framing: nmeaSE, in: "$A\r\n$B,",
			frames: []string{"A"}, stats: FramerStats{Frames: 1}, pending: 2},
		{name: "stx/etx binary framing bytes", framing: stxEtx, in: "\xff\x02T=12\x03\x00\x00\x02T=13\x03",
			frames: []string{"T=12", "T=13"}, stats: FramerStats{Frames: 2, Noise: 3}},
		{name: "end without start is a terminator", framing: profile.Framing{End: ";"}, in: "a;b;",
			frames: []string{"a", "b"}, stats: FramerStats{Frames: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			frames, st, f := collect(t, c.framing, []byte(c.in))
			if fmt.Sprint(frames) != fmt.Sprint(c.frames) || st != c.stats {
				t.Errorf("whole: frames %q stats %+v, want %q %+v", frames, st, c.frames, c.stats)
			}
			if f.Pending() != c.pending {
				t.Errorf("pending %d, want %d", f.Pending(), c.pending)
			}
			// The same stream split at every byte position, and byte by byte.
			for i := 0; i <= len(c.in); i++ {
				frames, st, _ := collect(t, c.framing, []byte(c.in[:i]), []byte(c.in[i:]))
				if fmt.Sprint(frames) != fmt.Sprint(c.frames) || st != c.stats {
					t.Fatalf("split at %d: frames %q stats %+v, want %q %+v", i, frames, st, c.frames, c.stats)
				}
			}
			var chunks [][]byte
			for i := range len(c.in) {
				chunks = append(chunks, []byte{c.in[i]})
			}
			if frames, st, _ := collect(t, c.framing, chunks...); fmt.Sprint(frames) != fmt.Sprint(c.frames) || st != c.stats {
				t.Errorf("byte by byte: frames %q stats %+v, want %q %+v", frames, st, c.frames, c.stats)
			}
		})
	}
}

func TestFramerReset(t *testing.T) {
	f, err := NewFramer(nmeaSE)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	f.Feed([]byte("$A,1"), func(b []byte) { got = append(got, string(b)) })
	if n := f.Reset(); n != 3 {
		t.Errorf("Reset dropped %d bytes, want 3", n)
	}
	// After a reset the rest of the old frame is noise until a Start.
	st := f.Feed([]byte(",2\r\n$B\r\n"), func(b []byte) { got = append(got, string(b)) })
	if fmt.Sprint(got) != "[B]" || st.Noise != 4 {
		t.Errorf("frames %q noise %d, want [B] and 4", got, st.Noise)
	}
}

func TestNewFramerErrors(t *testing.T) {
	for _, fr := range []profile.Framing{
		{},
		{Start: "$"},
		{Terminator: "\n", End: "\r"},
		{Start: "$", End: "\r\n", Terminator: "\n"},
		{Terminator: "\n", MaxLength: -1},
	} {
		if _, err := NewFramer(fr); err == nil {
			t.Errorf("NewFramer(%+v): no error", fr)
		}
	}
}

// TestFramerRandomChunks cuts a long noisy stream into random chunks and
// checks that every good frame comes out, in order.
func TestFramerRandomChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, fr := range []profile.Framing{crlf, nmeaSE} {
		var stream bytes.Buffer
		var want []string
		for i := range 500 {
			if rng.IntN(4) == 0 {
				stream.Write([]byte{0, 0xff, 0x13}[:rng.IntN(3)+1]) // line noise
			}
			if rng.IntN(10) == 0 {
				stream.WriteString(fr.Start + strings.Repeat("#", 40) + "\r\n") // overlong
			}
			frame := fmt.Sprintf("R,%d,%d", i, rng.IntN(1000))
			want = append(want, frame)
			stream.WriteString(fr.Start + frame + "\r\n")
		}
		data := stream.Bytes()
		var chunks [][]byte
		for len(data) > 0 {
			n := min(len(data), 1+rng.IntN(20))
			chunks = append(chunks, data[:n])
			data = data[n:]
		}
		got, st, _ := collect(t, fr, chunks...)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("framing %+v: got %d frames, want %d; first difference near %v", fr, len(got), len(want), firstDiff(got, want))
		}
		if st.Overflow == 0 {
			t.Errorf("framing %+v: no overflow counted", fr)
		}
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("%d: %q vs %q", i, a[i], b[i])
		}
	}
	return "the end"
}
