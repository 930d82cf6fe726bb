package rsmp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// FormFeed ends every RSMP message on the wire (RSMP core 3.2.2,
// "Transport of data", "Wrapping of packets").
const FormFeed = 0x0C

// DefaultMaxMessage bounds one message, in bytes. RSMP sets no limit; a
// StatusResponse of every status of a large controller is a few KiB, so a
// peer sending more without a form feed is broken or hostile.
const DefaultMaxMessage = 256 << 10

// ErrTooLarge is returned by Framer.Next for a message longer than its
// limit; the framer has skipped it up to its form feed, and the next call
// returns the message after it.
var ErrTooLarge = errors.New("rsmp: message longer than the limit")

// Framer splits a byte stream into RSMP messages at form feeds. Several
// consecutive form feeds, or one before the first message, are skipped
// ("must not be sent, but must be handled"). It is not safe for
// concurrent use.
type Framer struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewFramer returns a framer reading r, refusing messages longer than max
// bytes (0: DefaultMaxMessage).
func NewFramer(r io.Reader, max int) *Framer {
	if max <= 0 {
		max = DefaultMaxMessage
	}
	return &Framer{r: bufio.NewReaderSize(r, 4096), max: max}
}

// Next returns the next message, without its form feed; the slice is
// valid until the next call. At the end of the stream it returns io.EOF
// (a partial message without its form feed is dropped: RSMP ends every
// message with one), or the reader's error. A message longer than the
// limit is skipped and reported as ErrTooLarge.
func (f *Framer) Next() ([]byte, error) {
	f.buf = f.buf[:0]
	tooLarge := false
	for {
		chunk, err := f.r.ReadSlice(FormFeed)
		if !tooLarge {
			if len(f.buf)+len(chunk) > f.max+1 {
				tooLarge, f.buf = true, f.buf[:0]
			} else {
				f.buf = append(f.buf, chunk...)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			if errors.Is(err, io.EOF) && (len(f.buf) > 0 || tooLarge) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if tooLarge {
			return nil, fmt.Errorf("%w of %d bytes", ErrTooLarge, f.max)
		}
		msg := bytes.TrimSpace(f.buf[:len(f.buf)-1])
		if len(msg) == 0 {
			f.buf = f.buf[:0]
			continue // consecutive form feeds, or whitespace between them
		}
		return msg, nil
	}
}
