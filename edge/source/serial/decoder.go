package serial

import (
	"errors"
	"fmt"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// Error kinds, the "kind" label of ponte_edge_device_errors_total.
const (
	kindChecksum  = "checksum"  // a frame failed its checksum
	kindFraming   = "framing"   // a frame was overlong, cut short or held garbage
	kindUnmatched = "unmatched" // a frame matched no record
	kindDecode    = "decode"    // a frame had fields that could not be decoded
	kindTimeout   = "timeout"   // a request got no reply in time
	kindComm      = "comm"      // the port failed, or a free-running device fell silent
)

// frameEvent is what the decoder makes of one frame. Slices are valid only
// during the callback.
type frameEvent struct {
	raw      []byte         // the frame as framed, checksum included
	record   string         // the record that parsed it, if any
	readings []wire.Reading // empty unless a record matched
	err      error          // nil, or wrapping ErrChecksum, ErrUnmatched or ErrDecode
}

// valid reports whether the frame passed its checksum and matched a
// record: the device is talking sense, whatever its field values.
func (e *frameEvent) valid() bool { return e.record != "" }

// errKind returns the metrics kind of a frame error.
func errKind(err error) string {
	switch {
	case errors.Is(err, ErrChecksum):
		return kindChecksum
	case errors.Is(err, ErrUnmatched):
		return kindUnmatched
	case errors.Is(err, ErrDecode):
		return kindDecode
	}
	return kindComm
}

// decoder is the pure pipeline from bytes off the wire to readings:
// framer, checksum, line parser. It is not safe for concurrent use.
type decoder struct {
	framer   *Framer
	checksum string
	parser   *lineParser
	out      []wire.Reading
}

func newDecoder(device string, s *profile.Serial) (*decoder, error) {
	fr, err := NewFramer(s.Framing)
	if err != nil {
		return nil, err
	}
	switch s.Checksum.Kind {
	case "", profile.ChecksumNone, profile.ChecksumNMEAXOR, profile.ChecksumSum8:
	default:
		return nil, fmt.Errorf("unknown checksum kind %q (expected none, nmea_xor or sum8)", s.Checksum.Kind)
	}
	p, err := newLineParser(device, s)
	if err != nil {
		return nil, err
	}
	return &decoder{framer: fr, checksum: s.Checksum.Kind, parser: p}, nil
}

// feed takes a chunk read at time at (the acquisition time of every frame
// it completes) and calls fn for each complete frame.
func (d *decoder) feed(p []byte, at time.Time, fn func(*frameEvent)) FramerStats {
	return d.framer.Feed(p, func(raw []byte) {
		ev := frameEvent{raw: raw}
		data, err := verifyChecksum(d.checksum, raw)
		if err != nil {
			ev.err = err
			fn(&ev)
			return
		}
		d.out, ev.record, ev.err = d.parser.parseLine(string(data), at, d.out[:0])
		ev.readings = d.out
		fn(&ev)
	})
}
