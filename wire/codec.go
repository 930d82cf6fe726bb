package wire

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// The batch encoding, version 3, all integers little-endian or varint:
//
//	magic "PNB" | version u8
//	gateway      string
//	epoch        u64
//	retained     uvarint                    (version 2 on; see Batch.Retained)
//	skipped      uvarint                    (version 2 on; first seq - From, 0 when From is unset)
//	flags        uvarint                    (version 3 on; see Batch.Flags)
//	base time    varint (unix ns)           readings' times are deltas to it
//	strings      uvarint n, n x string      device, point, unit and reason names
//	count        uvarint
//	count x reading:
//	  seq delta    uvarint (from the previous seq; the first from 0)
//	  device       uvarint string index
//	  point        uvarint string index
//	  unit         uvarint string index
//	  time delta   varint ns
//	  quality      u8; if not good: reason as uvarint string index
//	  kind         u8, then float64 bits u64 | int varint | bool u8 | string index uvarint
//	crc32c       u32 over everything before it
//
// string = uvarint length + UTF-8 bytes. A string table makes a batch of a
// hundred readings from ten devices carry each name once; the deltas make
// sequence numbers and times one or two bytes each.

var magic = [3]byte{'P', 'N', 'B'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encode appends the encoding of b to dst. It fails if the batch does not
// validate or its encoding exceeds MaxBatchBytes.
func Encode(dst []byte, b *Batch) ([]byte, error) {
	var e Encoder
	return e.Encode(dst, b)
}

// An Encoder encodes batches as Encode does, keeping its string table and
// references from one batch to the next so that a sender encoding batch
// after batch allocates nothing of its own. Not safe for concurrent use.
type Encoder struct {
	idx   map[string]uint64
	table []string
	refs  []uint64
}

// Encode appends the encoding of b to dst (see the package function).
func (e *Encoder) Encode(dst []byte, b *Batch) ([]byte, error) {
	if err := b.Validate(); err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, magic[:]...)
	version := byte(2) // the oldest that carries Retained and From
	if b.Flags != 0 {
		version = 3
	}
	dst = append(dst, version)
	dst = appendString(dst, b.Gateway)
	dst = binary.LittleEndian.AppendUint64(dst, b.Epoch)
	dst = binary.AppendUvarint(dst, b.Retained)
	dst = binary.AppendUvarint(dst, b.First()-b.Start())
	if version >= 3 {
		dst = binary.AppendUvarint(dst, b.Flags)
	}
	var base int64
	if len(b.Readings) > 0 {
		base = b.Readings[0].Time.UnixNano()
	}
	dst = binary.AppendVarint(dst, base)

	if e.idx == nil {
		e.idx = make(map[string]uint64, 16)
	}
	idx := e.idx
	clear(idx)
	table := e.table[:0]
	defer func() {
		clear(idx) // drop the strings for the collector
		clear(table)
		e.table = table[:0]
	}()
	intern := func(s string) uint64 {
		i, ok := idx[s]
		if !ok {
			i = uint64(len(table))
			idx[s] = i
			table = append(table, s)
		}
		return i
	}
	// Interning first keeps the table before the readings, so a decoder
	// can resolve indices in one pass.
	refs := e.refs[:0]
	for i := range b.Readings {
		r := &b.Readings[i]
		refs = append(refs, intern(r.Device), intern(r.Point), intern(r.Unit))
		if r.Quality != QualityGood {
			refs = append(refs, intern(r.Reason))
		}
		if r.Value.Kind == KindString {
			refs = append(refs, intern(r.Value.S))
		}
	}
	e.refs = refs[:0]
	dst = binary.AppendUvarint(dst, uint64(len(table)))
	for _, s := range table {
		dst = appendString(dst, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.Readings)))
	var prevSeq uint64
	k := 0
	strRef := func(dst []byte, _ string) []byte { // a string value: its index in the table
		dst = binary.AppendUvarint(dst, refs[k])
		k++
		return dst
	}
	for i := range b.Readings {
		r := &b.Readings[i]
		dst = binary.AppendUvarint(dst, b.Seqs[i]-prevSeq)
		prevSeq = b.Seqs[i]
		dst = binary.AppendUvarint(dst, refs[k])
		dst = binary.AppendUvarint(dst, refs[k+1])
		dst = binary.AppendUvarint(dst, refs[k+2])
		k += 3
		dst = binary.AppendVarint(dst, r.Time.UnixNano()-base)
		dst = append(dst, byte(r.Quality))
		if r.Quality != QualityGood {
			dst = binary.AppendUvarint(dst, refs[k])
			k++
		}
		dst = appendValue(dst, r.Value, strRef)
	}
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
	if n := len(dst) - start; n > MaxBatchBytes {
		return dst[:start], fmt.Errorf("encode batch of %d readings: %d bytes: %w (%d)", len(b.Readings), n, ErrTooLarge, MaxBatchBytes)
	}
	return dst, nil
}

// appendValue appends v's kind and payload; str appends a string value
// (inline in a record, as a string-table index in a batch).
func appendValue(dst []byte, v Value, str func([]byte, string) []byte) []byte {
	dst = append(dst, byte(v.Kind))
	switch v.Kind {
	case KindFloat:
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.F))
	case KindInt:
		dst = binary.AppendVarint(dst, v.I)
	case KindBool:
		dst = append(dst, boolByte(v.B))
	case KindString:
		dst = str(dst, v.S)
	}
	return dst
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}
