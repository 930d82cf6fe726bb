package serial

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ponte-city/ponte/internal/profile"
)

// DefaultMaxLength is the longest frame when a profile's framing leaves
// MaxLength at 0.
const DefaultMaxLength = 512

// ErrFraming is returned by NewFramer for framing it cannot work with.
var ErrFraming = errors.New("bad framing")

// FramerStats counts what a Framer handed on and what it dropped. All
// counts are of the call (or calls) they are returned from; they add up.
type FramerStats struct {
	// Frames is the number of complete frames handed on.
	Frames int
	// Noise is the number of bytes dropped outside any frame: bytes before
	// a Start, and control or line-idle bytes trimmed from a frame's ends.
	Noise int
	// Overflow is the number of frames dropped for being longer than
	// MaxLength.
	Overflow int
	// Broken is the number of frames dropped because a Start arrived before
	// their End, or because they hold control bytes in their middle.
	Broken int
}

// Dropped is the number of frames dropped (Overflow + Broken): what a
// source counts as framing errors.
func (s FramerStats) Dropped() int { return s.Overflow + s.Broken }

func (s *FramerStats) add(o FramerStats) {
	s.Frames += o.Frames
	s.Noise += o.Noise
	s.Overflow += o.Overflow
	s.Broken += o.Broken
}

type framerState uint8

const (
	stateHunt  framerState = iota // start/end mode: looking for Start, bytes are noise
	stateFrame                    // inside a frame
	stateSkip                     // dropping an overlong frame until the next resync point
)

// Framer splits a byte stream into frames as a profile's Framing says. It
// is fed the chunks reads return, however they fall: a frame may arrive
// split across many reads, and one read may hold several frames.
//
// Terminator mode (Framing.Terminator, or End without Start): a frame is
// the bytes up to the terminator. Start/End mode: a frame is the bytes
// between Start and End; bytes before Start are noise, and a Start inside
// an unfinished frame drops it (Broken) and opens a new frame there, which
// is how framing recovers when the end of a frame was lost on the line.
// Framing bytes are not part of the frame.
//
// A frame longer than MaxLength is dropped (Overflow) as soon as that is
// certain, without buffering the rest of it; framing resynchronises on the
// next terminator (or the next Start or End), and the frame after it is
// intact. Memory is therefore bounded by MaxLength.
//
// Garbage: serial lines produce NULs, 0xFF and stray control bytes at power
// up, on a break or when a device on a shared RS-485 bus switches its
// driver. Control bytes (below 0x20 except tab, and DEL) and 0xF8-0xFF
// (never part of UTF-8 text) at either end of a frame are trimmed and
// counted as Noise; a frame with such a byte in its middle is dropped
// (Broken), because a corrupted number could otherwise still parse.
// Frames left empty are dropped silently (blank lines).
//
// The result does not depend on how the stream is split into chunks. A
// Framer is not safe for concurrent use.
type Framer struct {
	start, end []byte // start/end mode when start != nil; end is the terminator otherwise
	max        int
	keep       int // bytes that may be the beginning of a framing sequence

	buf   []byte
	off   int // start of unprocessed bytes in buf
	scan  int // bytes after off known to hold no framing sequence
	state framerState
}

// NewFramer returns a Framer for f. MaxLength 0 means DefaultMaxLength.
func NewFramer(f profile.Framing) (*Framer, error) {
	fr := &Framer{max: f.MaxLength}
	switch {
	case f.MaxLength < 0:
		return nil, fmt.Errorf("%w: max_length %d is negative", ErrFraming, f.MaxLength)
	case f.MaxLength == 0:
		fr.max = DefaultMaxLength
	}
	switch {
	case f.Start != "" && f.End != "" && f.Terminator != "":
		return nil, fmt.Errorf("%w: give either terminator, or start and end, not both", ErrFraming)
	case f.Start != "":
		fr.start = []byte(f.Start)
		fr.end = []byte(f.End + f.Terminator) // one of them
		if len(fr.end) == 0 {
			return nil, fmt.Errorf("%w: start %q without end", ErrFraming, f.Start)
		}
		fr.keep = max(len(fr.start), len(fr.end)) - 1
		fr.state = stateHunt
	default:
		if f.Terminator != "" && f.End != "" {
			return nil, fmt.Errorf("%w: give either terminator, or start and end, not both", ErrFraming)
		}
		fr.end = []byte(f.Terminator + f.End)
		if len(fr.end) == 0 {
			return nil, fmt.Errorf("%w: no terminator (e.g. \"\\r\\n\") and no start and end", ErrFraming)
		}
		fr.keep = len(fr.end) - 1
		fr.state = stateFrame
	}
	return fr, nil
}

// Pending returns the number of bytes held for an unfinished frame.
func (f *Framer) Pending() int { return len(f.buf) - f.off }

// Reset drops any unfinished frame, as when the port is reopened or a new
// request is sent, and returns how many bytes it dropped.
func (f *Framer) Reset() int {
	n := f.Pending()
	f.buf, f.off, f.scan = f.buf[:0], 0, 0
	f.state = stateFrame
	if f.start != nil {
		f.state = stateHunt
	}
	return n
}

// Feed takes the next chunk of the stream and calls frame for each frame
// it completes, in order. The slice passed to frame is valid only until
// frame returns. Feed returns what this chunk completed and dropped.
func (f *Framer) Feed(p []byte, frame func([]byte)) FramerStats {
	var st FramerStats
	f.buf = append(f.buf, p...)
	if f.start != nil {
		f.feedStartEnd(frame, &st)
	} else {
		f.feedTerminator(frame, &st)
	}
	// Compact: move the unfinished frame to the front of the buffer.
	n := copy(f.buf, f.buf[f.off:])
	f.buf, f.off = f.buf[:n], 0
	return st
}

func (f *Framer) feedTerminator(frame func([]byte), st *FramerStats) {
	for {
		b := f.buf[f.off:]
		i := bytes.Index(b[f.scan:], f.end)
		if i < 0 {
			break
		}
		i += f.scan
		f.off += i + len(f.end)
		f.scan = 0
		switch {
		case f.state == stateSkip:
			f.state = stateFrame // the overlong frame ends here; it was counted
		case i > f.max:
			st.Overflow++
		default:
			deliver(b[:i], frame, st)
		}
	}
	f.tail(st)
}

func (f *Framer) feedStartEnd(frame func([]byte), st *FramerStats) {
	for {
		b := f.buf[f.off:]
		if f.state == stateHunt {
			i := bytes.Index(b, f.start)
			if i < 0 {
				if drop := len(b) - (len(f.start) - 1); drop > 0 {
					st.Noise += drop
					f.off += drop
				}
				return
			}
			st.Noise += i
			f.off += i + len(f.start)
			f.state, f.scan = stateFrame, 0
			continue
		}
		e := index(b, f.scan, f.end)
		s := index(b, f.scan, f.start)
		switch {
		case s >= 0 && (e < 0 || s < e):
			// A new frame starts before this one ended: its end was lost.
			if f.state == stateFrame {
				if s > f.max {
					st.Overflow++
				} else {
					st.Broken++
				}
			}
			f.off += s + len(f.start)
			f.state, f.scan = stateFrame, 0
		case e >= 0:
			switch {
			case f.state == stateSkip:
			case e > f.max:
				st.Overflow++
			default:
				deliver(b[:e], frame, st)
			}
			f.off += e + len(f.end)
			f.state, f.scan = stateHunt, 0
		default:
			f.tail(st)
			return
		}
	}
}

// tail deals with an unfinished frame at the end of the buffer: it is
// declared overlong once no framing sequence can end it within MaxLength,
// and from then on only the bytes that may begin a framing sequence are
// kept.
func (f *Framer) tail(st *FramerStats) {
	b := f.buf[f.off:]
	if f.state == stateFrame && len(b) > f.max+f.keep {
		st.Overflow++
		f.state = stateSkip
	}
	if f.state == stateSkip && len(b) > f.keep {
		f.off += len(b) - f.keep
		b = b[len(b)-f.keep:]
	}
	f.scan = max(0, len(b)-f.keep)
}

// index is bytes.Index of sep in b[from:], as an index into b.
func index(b []byte, from int, sep []byte) int {
	i := bytes.Index(b[from:], sep)
	if i < 0 {
		return -1
	}
	return i + from
}

// garbage reports whether c is a byte that never belongs to a text frame.
func garbage(c byte) bool {
	return (c < 0x20 && c != '\t') || c == 0x7f || c >= 0xf8
}

// deliver trims garbage from the ends of a frame and hands it on, or drops
// it if garbage remains inside.
func deliver(b []byte, frame func([]byte), st *FramerStats) {
	i, j := 0, len(b)
	for i < j && garbage(b[i]) {
		i++
	}
	for j > i && garbage(b[j-1]) {
		j--
	}
	st.Noise += len(b) - (j - i)
	b = b[i:j]
	if len(b) == 0 {
		return
	}
	for _, c := range b {
		if garbage(c) {
			st.Broken++
			return
		}
	}
	st.Frames++
	frame(b)
}
