package wire

import (
	"encoding/binary"
	"fmt"
)

// AppendRecord appends the encoding of one reading as the edge buffer
// stores it: self-contained (names inline), so each buffer record decodes on
// its own after a crash. The buffer adds its own length and CRC.
//
//	device string | point string | unit string | time varint ns |
//	quality u8 [reason string] | kind u8 value (as in a batch, strings inline)
func AppendRecord(dst []byte, r *Reading) []byte {
	dst = appendString(dst, r.Device)
	dst = appendString(dst, r.Point)
	dst = appendString(dst, r.Unit)
	dst = binary.AppendVarint(dst, r.Time.UnixNano())
	dst = append(dst, byte(r.Quality))
	if r.Quality != QualityGood {
		dst = appendString(dst, r.Reason)
	}
	return appendValue(dst, r.Value, appendString)
}

// DecodeRecord parses one buffer record written by AppendRecord.
func DecodeRecord(data []byte) (Reading, error) { return decodeRecord(data, nil) }

// decodeRecord is DecodeRecord taking the device, point and unit names
// from names, if not nil.
func decodeRecord(data []byte, names *Names) (Reading, error) {
	d := decoder{buf: data}
	r := Reading{Device: names.string(&d, 0), Point: names.string(&d, 1), Unit: names.string(&d, 2)}
	r.Time = timeOf(d.varint())
	r.Quality = Quality(d.byte())
	if d.err == nil && r.Quality > QualityBadRange {
		d.fail(ErrCorrupt, "quality %d", r.Quality)
	}
	if r.Quality != QualityGood {
		r.Reason = d.string()
	}
	r.Value = d.value(d.string)
	if d.err == nil && d.off != len(data) {
		d.fail(ErrCorrupt, "%d bytes after the value", len(data)-d.off)
	}
	if d.err != nil {
		return Reading{}, fmt.Errorf("decode record: %w", d.err)
	}
	return r, nil
}
