package buffer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// On-disk format; see doc.go for the layout.
const (
	segMagic = "PNTB"
	// segVersion is the format version this build writes.
	segVersion    = 1
	headerSize    = 36
	segSuffix     = ".seg"
	segNameDigits = 20
	// frameFixed is the CRC in front of every record.
	frameFixed = 4
)

// castagnoli is the CRC32C table; built once, never written after.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// segHeader is the fixed header at the start of every segment file.
type segHeader struct {
	epoch uint64
	first uint64 // sequence number of the first record
	base  int64  // unix milliseconds record times are relative to
}

// errBadHeader reports a segment header that does not verify.
var errBadHeader = errors.New("bad segment header")

func (h segHeader) encode() []byte {
	b := make([]byte, headerSize)
	copy(b, segMagic)
	b[4] = segVersion
	binary.LittleEndian.PutUint64(b[8:], h.epoch)
	binary.LittleEndian.PutUint64(b[16:], h.first)
	binary.LittleEndian.PutUint64(b[24:], uint64(h.base))
	binary.LittleEndian.PutUint32(b[32:], crc32.Checksum(b[:32], castagnoli))
	return b
}

// decodeHeader decodes a segment header. It returns a *VersionError for a
// header of a format version this build does not read, errBadHeader for
// damage.
func decodeHeader(b []byte) (segHeader, error) {
	if err := checkVersion(b); err != nil {
		return segHeader{}, err
	}
	if len(b) < headerSize {
		return segHeader{}, fmt.Errorf("%w: %d bytes, want %d", errBadHeader, len(b), headerSize)
	}
	if string(b[:4]) != segMagic {
		return segHeader{}, fmt.Errorf("%w: magic %q", errBadHeader, b[:4])
	}
	if b[4] != segVersion {
		return segHeader{}, fmt.Errorf("%w: version %d, want %d", errBadHeader, b[4], segVersion)
	}
	if got, want := binary.LittleEndian.Uint32(b[32:]), crc32.Checksum(b[:32], castagnoli); got != want {
		return segHeader{}, fmt.Errorf("%w: crc %08x, want %08x", errBadHeader, got, want)
	}
	return segHeader{
		epoch: binary.LittleEndian.Uint64(b[8:]),
		first: binary.LittleEndian.Uint64(b[16:]),
		base:  int64(binary.LittleEndian.Uint64(b[24:])),
	}, nil
}

// segName is the file name of the segment starting at first.
func segName(first uint64) string {
	return fmt.Sprintf("%0*d%s", segNameDigits, first, segSuffix)
}

// parseSegName returns the first sequence number a segment file name
// carries, and false for any other name.
func parseSegName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(digits) != segNameDigits {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil && n > 0
}

// appendFrame appends one record frame to dst:
// crc32c(le) | uvarint len(data) | varint (ms - base) | data,
// the CRC covering everything after itself.
func appendFrame(dst []byte, base, ms int64, data []byte) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.AppendUvarint(dst, uint64(len(data)))
	dst = binary.AppendVarint(dst, ms-base)
	dst = append(dst, data...)
	binary.LittleEndian.PutUint32(dst[start:], crc32.Checksum(dst[start+frameFixed:], castagnoli))
	return dst
}

// frameLen is the encoded size of a record of n data bytes (the time delta
// estimated at its usual 3 bytes).
func frameLen(n int) int {
	return frameFixed + uvarintLen(uint64(n)) + 3 + n
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// frameStatus says what parseFrame found.
type frameStatus int

const (
	frameOK    frameStatus = iota
	frameShort             // b ends inside the frame: more bytes needed, or torn at EOF
	frameBad               // the frame does not verify
)

// parseFrame decodes the frame at the start of b. On frameOK, data aliases
// b and n is the frame's length. On frameShort, n is the length needed when
// known (0 if the length field itself is cut).
func parseFrame(b []byte, base int64) (data []byte, ms int64, n int, st frameStatus) {
	if len(b) < frameFixed+2 {
		return nil, 0, 0, frameShort
	}
	l, ln := binary.Uvarint(b[frameFixed:])
	switch {
	case ln == 0:
		return nil, 0, 0, frameShort
	case ln < 0 || l > MaxRecordBytes:
		return nil, 0, 0, frameBad
	}
	p := frameFixed + ln
	d, dn := binary.Varint(b[p:])
	switch {
	case dn == 0:
		return nil, 0, 0, frameShort
	case dn < 0:
		return nil, 0, 0, frameBad
	}
	p += dn
	end := p + int(l)
	if end > len(b) {
		return nil, 0, end, frameShort
	}
	if binary.LittleEndian.Uint32(b) != crc32.Checksum(b[frameFixed:end], castagnoli) {
		return nil, 0, end, frameBad
	}
	return b[p:end], base + d, end, frameOK
}

// allZero reports whether b holds only zero bytes.
func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
