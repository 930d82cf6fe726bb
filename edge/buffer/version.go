package buffer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// versionOffset is where every format version keeps its version byte,
// right after the magic.
const versionOffset = len(segMagic)

// readVersions are the segment format versions this build reads, oldest
// first; segVersion, the one it writes, is among them. Never written after
// start-up.
var readVersions = [...]byte{1}

// ErrUnknownVersion is what the *VersionError Open returns wraps: a segment
// was written in a format version this build does not read.
var ErrUnknownVersion = errors.New("unknown buffer format version")

// VersionError reports a segment file written in a format version this
// build does not read, typically by a newer Ponte before a downgrade. Open
// refuses the whole buffer rather than set the segment aside: its records
// are intact, and the build that wrote them can still send them.
type VersionError struct {
	// Path is the segment file.
	Path string
	// Offset is the byte offset of the version in the file.
	Offset int64
	// Version is the version found there.
	Version int
	// Reads lists the versions this build reads.
	Reads []int
}

// Error says what was found, where, and what to do about it.
func (e *VersionError) Error() string {
	reads := make([]string, len(e.Reads))
	for i, v := range e.Reads {
		reads[i] = strconv.Itoa(v)
	}
	what := "version " + strings.Join(reads, ", ")
	if len(reads) > 1 {
		what = "versions " + strings.Join(reads, ", ")
	}
	return fmt.Sprintf("segment %s: offset %d: %v %d, this build reads %s; "+
		"it was written by a newer Ponte: run that version (or a newer one) until "+
		"the buffer is drained before downgrading, or move the file out of the "+
		"buffer directory (its records are then lost)",
		e.Path, e.Offset, ErrUnknownVersion, e.Version, what)
}

// Unwrap makes errors.Is(err, ErrUnknownVersion) hold.
func (e *VersionError) Unwrap() error { return ErrUnknownVersion }

// checkVersion returns a *VersionError (without Path) when b starts with the
// magic and a version this build does not read, and nil otherwise: a
// header that is not a buffer header at all, or is damaged, is for
// decodeHeader to judge. A version byte flipped in a header that verifies
// with a version this build reads is damage, not a newer format, so one
// bit of rot does not stop the buffer.
func checkVersion(b []byte) error {
	if len(b) <= versionOffset || string(b[:versionOffset]) != segMagic {
		return nil
	}
	v := b[versionOffset]
	for _, r := range readVersions {
		if v == r {
			return nil
		}
	}
	if len(b) >= headerSize {
		// Version 1's header is the only layout so far: magic | version |
		// ... | crc32c of the first 32 bytes.
		h := [headerSize - 4]byte(b[:headerSize-4])
		h[versionOffset] = 1
		if crc32.Checksum(h[:], castagnoli) == binary.LittleEndian.Uint32(b[headerSize-4:]) {
			return nil
		}
	}
	reads := make([]int, len(readVersions))
	for i, r := range readVersions {
		reads[i] = int(r)
	}
	return &VersionError{Offset: int64(versionOffset), Version: int(v), Reads: reads}
}
