package modbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/goburrow/modbus"
	"github.com/ponte-city/ponte/edge/source"
)

// rtuSlice is how long one read of the serial port blocks when the line is
// silent: the longest a pending request takes to notice its deadline or a
// cancelled context, and the silence that ends a drain. It is
// tarm/serial's shortest read timeout (one VTIME decisecond); a read
// returns as soon as bytes arrive, so it delays only failures.
const rtuSlice = 100 * time.Millisecond

// rtuDrainMax bounds how long a drain waits for a chattering line to go
// quiet.
const rtuDrainMax = 500 * time.Millisecond

// rtuLink is one RS-485 line: goburrow's RTU packager (frame, CRC, slave
// check) over a transporter of our own on a tarm/serial port (see the
// package doc, "RTU over tarm/serial"). goburrow's RTU transporter reads
// split frames correctly, but it cannot be cancelled, it leaves a late
// reply in the port's buffer after a timeout, where the next slave's answer
// is then read from, and it opens its port with goburrow/serial; ours reads
// exactly one frame in slices of rtuSlice (so it notices ctx and its
// deadline), and drains the line after any failure.
type rtuLink struct {
	line source.SerialLine
	pk   *modbus.RTUClientHandler // used as the packager only
	c    modbus.Client

	open    func(source.SerialLine) (io.ReadWriteCloser, error)
	port    io.ReadWriteCloser
	ctx     context.Context // of the request in flight; Send has no ctx parameter
	timeout time.Duration
	dirty   bool
	lastIO  time.Time
}

func newRTULink(line source.SerialLine) *rtuLink {
	l := &rtuLink{line: line, pk: modbus.NewRTUClientHandler(line.Path), ctx: context.Background()}
	l.open = func(line source.SerialLine) (io.ReadWriteCloser, error) { return source.OpenSerial(line, rtuSlice) }
	l.c = modbus.NewClient2(l.pk, modbus.Transporter(sendFunc(l.send)))
	return l
}

func (l *rtuLink) read(ctx context.Context, unit uint8, timeout time.Duration, r *Request) ([]byte, error) {
	l.pk.SlaveId = unit
	l.ctx, l.timeout = ctx, timeout
	defer func() { l.ctx = context.Background() }()
	return readWith(l.c, r)
}

func (l *rtuLink) write(ctx context.Context, unit uint8, timeout time.Duration, w *writeOp) error {
	l.pk.SlaveId = unit
	l.ctx, l.timeout = ctx, timeout
	defer func() { l.ctx = context.Background() }()
	return writeWith(l.c, w)
}

func (l *rtuLink) send(adu []byte) ([]byte, error) {
	if l.port == nil {
		p, err := l.open(l.line)
		if err != nil {
			return nil, err
		}
		l.port = p
	}
	if l.dirty {
		l.drain()
	}
	// Modbus RTU frames are separated by at least 3.5 character times.
	if gap := l.frameGap() - time.Since(l.lastIO); gap > 0 {
		time.Sleep(gap)
	}
	if _, err := l.port.Write(adu); err != nil {
		l.closePort()
		return nil, fmt.Errorf("write to %s: %w", l.line.Path, err)
	}
	deadline := time.Now().Add(l.timeout)
	want := rtuReplyLen(adu)
	buf := make([]byte, 0, want)
	var chunk [256]byte
	for {
		need := want
		if len(buf) >= 2 && buf[1]&0x80 != 0 {
			need = 5 // slave, function|0x80, exception code, CRC
		}
		if len(buf) >= need {
			break
		}
		if err := l.ctx.Err(); err != nil {
			l.dirty = true
			return nil, err
		}
		if time.Now().After(deadline) {
			l.dirty = true
			return nil, fmt.Errorf("%d of %d reply bytes within %s: %w", len(buf), need, l.timeout, os.ErrDeadlineExceeded)
		}
		n, err := l.port.Read(chunk[:need-len(buf)])
		buf = append(buf, chunk[:n]...)
		// tarm/serial reports rtuSlice of silence as (0, io.EOF).
		if err != nil && !(errors.Is(err, io.EOF) && n == 0) {
			l.closePort()
			return nil, fmt.Errorf("read from %s: %w", l.line.Path, err)
		}
	}
	l.lastIO = time.Now()
	return buf, nil
}

// drain reads and discards until the line has been silent for rtuSlice.
func (l *rtuLink) drain() {
	var junk [256]byte
	stop := time.Now().Add(rtuDrainMax)
	for time.Now().Before(stop) {
		n, err := l.port.Read(junk[:]) // (0, io.EOF) after rtuSlice of silence
		if n == 0 || err != nil {
			break
		}
	}
	l.dirty = false
	l.lastIO = time.Now()
}

// frameGap is 3.5 character times (11 bits each), fixed at 1.75 ms above
// 19200 baud as the serial-line specification says.
func (l *rtuLink) frameGap() time.Duration {
	if l.line.Baud <= 0 || l.line.Baud > 19200 {
		return 1750 * time.Microsecond
	}
	return time.Duration(35*11) * time.Second / time.Duration(10*l.line.Baud)
}

// rtuReplyLen is the length of a complete normal reply to the read request
// adu (slave, function, byte count, data, CRC).
func rtuReplyLen(adu []byte) int {
	if len(adu) < 6 {
		return 5
	}
	n := int(binary.BigEndian.Uint16(adu[4:]))
	switch adu[1] {
	case modbus.FuncCodeReadCoils, modbus.FuncCodeReadDiscreteInputs:
		return 5 + (n+7)/8
	case modbus.FuncCodeReadHoldingRegisters, modbus.FuncCodeReadInputRegisters:
		return 5 + 2*n
	}
	return 8 // echo of a write
}

func (l *rtuLink) closePort() {
	if l.port != nil {
		_ = l.port.Close()
		l.port = nil
	}
}

func (l *rtuLink) reset() { l.dirty = true }

func (l *rtuLink) close() error {
	if l.port == nil {
		return nil
	}
	err := l.port.Close()
	l.port = nil
	return err
}
