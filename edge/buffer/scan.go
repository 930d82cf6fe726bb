package buffer

import (
	"errors"
	"fmt"
	"io"
)

// scanStatus says what scanner.next found.
type scanStatus int

const (
	scanOK   scanStatus = iota
	scanEnd             // clean end at the byte limit
	scanTorn            // the last frame is cut by the byte limit
	scanBad             // a frame does not verify
)

// readChunk is how much a scanner reads from the file at a time, at most.
const readChunk = 256 << 10

// firstChunk is a scanner's first read: the uplink reads a batch (about
// 50 kB of records) and the head moves over one after each ack, so most
// walks stop early. Reads double from here up to readChunk.
const firstChunk = 32 << 10

// scanner reads the frames of one segment file in order between a start
// offset and a byte limit, with large ReadAt calls. It is used by one
// goroutine at a time.
type scanner struct {
	f    File
	base int64
	off  int64 // file offset of buf[r]
	end  int64 // byte limit, exclusive
	buf  []byte
	r, w int
	// chunk is how much the next fill reads.
	chunk int
}

// newScanner returns a scanner of f from off to end. buf, if not nil, is
// reused as its read buffer (see scanner.buffer).
func newScanner(f File, base, off, end int64, buf []byte) *scanner {
	if want := int(min(readChunk, max(end-off, 64))); cap(buf) < want {
		buf = make([]byte, want)
	}
	return &scanner{f: f, base: base, off: off, end: end, buf: buf[:cap(buf)], chunk: firstChunk}
}

// buffer returns the scanner's read buffer, for the next scanner.
func (s *scanner) buffer() []byte { return s.buf }

// next returns the next frame; data aliases the scanner's buffer and stays
// valid until the following call. On scanTorn and scanBad the scanner
// stays at the damaged frame (s.off).
func (s *scanner) next() (data []byte, ms int64, st scanStatus, err error) {
	for {
		avail := s.buf[s.r:s.w]
		if len(avail) == 0 && s.off >= s.end {
			return nil, 0, scanEnd, nil
		}
		d, t, n, fs := parseFrame(avail, s.base)
		switch fs {
		case frameOK:
			s.r += n
			s.off += int64(n)
			return d, t, scanOK, nil
		case frameBad:
			return nil, 0, scanBad, nil
		}
		if s.off+int64(len(avail)) >= s.end {
			return nil, 0, scanTorn, nil
		}
		if err := s.fill(n); err != nil {
			return nil, 0, scanEnd, err
		}
	}
}

// fill moves the unread bytes to the front and reads more, growing the
// buffer when one frame needs more than it holds.
func (s *scanner) fill(need int) error {
	n := copy(s.buf, s.buf[s.r:s.w])
	s.r, s.w = 0, n
	if need > len(s.buf) {
		nb := make([]byte, need)
		copy(nb, s.buf[:n])
		s.buf = nb
	}
	at := s.off + int64(n)
	want := min(int64(len(s.buf)-n), s.end-at, int64(max(s.chunk, need-n)))
	s.chunk = min(2*s.chunk, readChunk)
	got, err := s.f.ReadAt(s.buf[n:n+int(want)], at)
	s.w += got
	if errors.Is(err, io.EOF) || (err == nil && got == 0) {
		// The file is shorter than the limit: what is missing counts as
		// the end of the file.
		s.end = at + int64(got)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read at offset %d: %w", at, err)
	}
	return nil
}

// restIsZero reports whether the file holds only zero bytes from off to
// end.
func restIsZero(f File, off, end int64) (bool, error) {
	buf := make([]byte, min(readChunk, max(end-off, 1)))
	for off < end {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		if !allZero(buf[:n]) {
			return false, nil
		}
		off += int64(n)
		if errors.Is(err, io.EOF) || n == 0 {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("read at offset %d: %w", off, err)
		}
	}
	return true, nil
}
