package wire

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"unicode/utf8"
)

// Decode parses an encoded batch. It never panics on any input, refuses
// input over MaxBatchBytes, checks the CRC before looking inside, and
// returns errors wrapping ErrTooLarge, ErrVersion, ErrCorrupt or
// ErrTruncated with the offset where decoding stopped. The returned batch
// has been validated.
func Decode(data []byte) (*Batch, error) {
	if len(data) > MaxBatchBytes {
		return nil, fmt.Errorf("decode batch: %d bytes: %w (%d)", len(data), ErrTooLarge, MaxBatchBytes)
	}
	if len(data) < len(magic)+1+4 {
		return nil, fmt.Errorf("decode batch: %d bytes: %w", len(data), ErrTruncated)
	}
	if [3]byte(data[:3]) != magic {
		return nil, fmt.Errorf("decode batch: magic %q: %w (expected %q)", data[:3], ErrCorrupt, magic[:])
	}
	version := data[3]
	if version < minVersion || version > Version {
		return nil, fmt.Errorf("decode batch: version %d: %w (this ingest reads %d to %d)", version, ErrVersion, minVersion, Version)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("decode batch: crc32c mismatch: %w", ErrCorrupt)
	}
	d := decoder{buf: body, off: 4}
	b := &Batch{Gateway: d.string()}
	b.Epoch = d.u64()
	var skipped uint64
	if version >= 2 {
		b.Retained = d.uvarint()
		skipped = d.uvarint()
	}
	if version >= 3 {
		b.Flags = d.uvarint()
	}
	base := d.varint()
	nstr := d.count(1)
	table := make([]string, 0, nstr)
	for i := 0; i < nstr && d.err == nil; i++ {
		table = append(table, d.string())
	}
	str := func() string {
		i := d.uvarint()
		if d.err == nil && i >= uint64(len(table)) {
			d.fail(ErrCorrupt, "string index %d of %d", i, len(table))
		}
		if d.err != nil {
			return ""
		}
		return table[i]
	}
	// A reading takes at least 7 bytes, which bounds the allocation.
	n := d.count(7)
	b.Seqs = make([]uint64, 0, n)
	b.Readings = make([]Reading, 0, n)
	var seq uint64
	for i := 0; i < n && d.err == nil; i++ {
		delta := d.uvarint()
		if delta == 0 || seq+delta < seq {
			d.fail(ErrCorrupt, "readings[%d]: sequence delta %d", i, delta)
			break
		}
		seq += delta
		r := Reading{Device: str(), Point: str(), Unit: str()}
		r.Time = timeOf(base + d.varint())
		r.Quality = Quality(d.byte())
		if r.Quality > QualityBadRange {
			d.fail(ErrCorrupt, "readings[%d]: quality %d", i, r.Quality)
			break
		}
		if r.Quality != QualityGood {
			r.Reason = str()
		}
		r.Value = d.value(str)
		b.Seqs = append(b.Seqs, seq)
		b.Readings = append(b.Readings, r)
	}
	if d.err == nil && d.off != len(d.buf) {
		d.fail(ErrCorrupt, "%d bytes after the last reading", len(d.buf)-d.off)
	}
	if d.err == nil && skipped > 0 {
		if len(b.Seqs) == 0 || skipped >= b.Seqs[0] {
			d.fail(ErrCorrupt, "%d skipped sequence numbers before the first reading %d", skipped, b.First())
		} else {
			b.From = b.Seqs[0] - skipped
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode batch: %w", d.err)
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("decode batch: %w: %w", ErrCorrupt, err)
	}
	return b, nil
}

// decoder reads from buf and remembers the first error; reads after an
// error return zero values, so the parse code stays linear.
type decoder struct {
	buf []byte
	off int
	err error
}

func (d *decoder) fail(kind error, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("at byte %d: %s: %w", d.off, fmt.Sprintf(format, args...), kind)
	}
}

func (d *decoder) need(n int) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || len(d.buf)-d.off < n {
		d.fail(ErrTruncated, "need %d bytes, have %d", n, len(d.buf)-d.off)
		return false
	}
	return true
}

func (d *decoder) byte() byte {
	if !d.need(1) {
		return 0
	}
	d.off++
	return d.buf[d.off-1]
}

func (d *decoder) u64() uint64 {
	if !d.need(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(d.buf[d.off:])
	d.off += 8
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		d.fail(ErrTruncated, "bad uvarint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf[d.off:])
	if n <= 0 {
		d.fail(ErrTruncated, "bad varint")
		return 0
	}
	d.off += n
	return v
}

// value reads a value's kind and payload; str reads a string value.
func (d *decoder) value(str func() string) Value {
	v := Value{Kind: Kind(d.byte())}
	switch v.Kind {
	case KindFloat:
		v.F = math.Float64frombits(d.u64())
	case KindInt:
		v.I = d.varint()
	case KindBool:
		switch d.byte() {
		case 0:
		case 1:
			v.B = true
		default:
			d.fail(ErrCorrupt, "bool byte")
		}
	case KindString:
		v.S = str()
	default:
		d.fail(ErrCorrupt, "value kind %d", v.Kind)
	}
	return v
}

// count reads a count of items that take at least min bytes each, refusing
// counts the remaining input cannot hold.
func (d *decoder) count(min int) int {
	c := d.uvarint()
	if d.err == nil && c > uint64((len(d.buf)-d.off)/min) {
		d.fail(ErrCorrupt, "count %d larger than the remaining %d bytes allow", c, len(d.buf)-d.off)
		return 0
	}
	return int(c)
}

func (d *decoder) string() string { return string(d.stringBytes()) }

// stringBytes reads a string and returns its bytes, aliasing the input.
func (d *decoder) stringBytes() []byte {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.buf)-d.off) {
		d.fail(ErrTruncated, "string of %d bytes, %d left", n, len(d.buf)-d.off)
	}
	if d.err != nil {
		return nil
	}
	s := d.buf[d.off : d.off+int(n)]
	d.off += int(n)
	if !utf8.Valid(s) {
		d.fail(ErrCorrupt, "string is not UTF-8")
		return nil
	}
	return s
}
