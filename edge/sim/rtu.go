package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// rtuGap is how long a partial frame may wait for its remaining bytes. The
// standard's 3.5 character times are a few milliseconds; pseudo-terminals
// and USB adapters deliver in bursts, so the simulator waits longer before
// it discards a partial frame, as a device discards one after silence.
const rtuGap = 100 * time.Millisecond

// rtuMaxFrame bounds the search for the end of a frame of an unknown
// function code.
const rtuMaxFrame = 256

// crc16 is the Modbus RTU CRC (polynomial 0xA001 reflected, init 0xFFFF);
// it is sent low byte first.
func crc16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc = crcStep(crc, c)
	}
	return crc
}

func crcStep(crc uint16, c byte) uint16 {
	return crc>>8 ^ crcTable[byte(crc)^c]
}

// crcTable is the byte-wise form of the CRC; it is computed once and only
// read.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i)
		for j := 0; j < 8; j++ {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
		t[i] = crc
	}
	return t
}()

func appendCRC(b []byte) []byte {
	c := crc16(b)
	return append(b, byte(c), byte(c>>8))
}

// crcPrefix returns the length of the shortest prefix of buf (4 to
// rtuMaxFrame bytes) that ends with its own CRC, or 0.
func crcPrefix(buf []byte) int {
	crc := uint16(0xFFFF)
	for k := 0; k+2 <= len(buf) && k+2 <= rtuMaxFrame; k++ {
		if k >= 2 && crc == uint16(buf[k])|uint16(buf[k+1])<<8 {
			return k + 2
		}
		crc = crcStep(crc, buf[k])
	}
	return 0
}

func crcOK(frame []byte) bool {
	n := len(frame)
	return n >= 4 && crc16(frame[:n-2]) == uint16(frame[n-2])|uint16(frame[n-1])<<8
}

// rtuAssembler cuts request frames out of the bytes of a serial line.
type rtuAssembler struct {
	buf []byte
}

func (a *rtuAssembler) feed(b []byte) { a.buf = append(a.buf, b...) }

// pending reports whether bytes of an incomplete frame are waiting.
func (a *rtuAssembler) pending() bool { return len(a.buf) > 0 }

// reset discards a partial frame after silence on the line.
func (a *rtuAssembler) reset() { a.buf = a.buf[:0] }

// next returns the next request frame with a valid CRC, or nil when more
// bytes are needed. The length comes from the function code (1 to 6: 8
// bytes; 15 and 16: 9 plus the byte count); for other function codes it is
// the shortest prefix with a valid CRC, so an illegal function still gets
// its exception. A complete frame with a bad CRC loses its first byte and
// the search starts again one byte later: that is how the line
// resynchronises after noise.
func (a *rtuAssembler) next() []byte {
	for len(a.buf) >= 4 {
		n := 0
		switch fc := a.buf[1]; {
		case fc >= 1 && fc <= 6:
			n = 8
		case fc == fcWriteMultipleCoils || fc == fcWriteMultipleRegs:
			if len(a.buf) < 7 {
				return nil
			}
			n = 9 + int(a.buf[6])
		default:
			n = crcPrefix(a.buf)
			if n == 0 {
				// Either a frame still arriving, or noise in front of a
				// frame we know: skip to the latter if it is there.
				if i := knownFrameAhead(a.buf); i > 0 || len(a.buf) >= rtuMaxFrame {
					a.buf = a.buf[max(i, 1):]
					continue
				}
				return nil
			}
		}
		if len(a.buf) < n {
			return nil
		}
		if !crcOK(a.buf[:n]) {
			a.buf = a.buf[1:]
			continue
		}
		frame := append([]byte(nil), a.buf[:n]...)
		a.buf = append(a.buf[:0], a.buf[n:]...)
		return frame
	}
	return nil
}

// knownFrameAhead returns the offset after 0 of the first complete frame
// of a known function code with a valid CRC in buf, or 0.
func knownFrameAhead(buf []byte) int {
	for i := 1; i+8 <= len(buf) && i < rtuMaxFrame; i++ {
		n := 8
		switch fc := buf[i+1]; {
		case fc >= 1 && fc <= 6:
		case fc == fcWriteMultipleCoils || fc == fcWriteMultipleRegs:
			n = 9 + int(buf[i+6])
		default:
			continue
		}
		if i+n <= len(buf) && crcOK(buf[i:i+n]) {
			return i
		}
	}
	return 0
}

// ServeRTU serves the units on one serial line (RS-485 style: several
// units share it) until ctx is done, then returns nil. Frames for unit IDs
// the server does not have are ignored silently, as the other devices on
// a bus would; unit 0 is broadcast: writes apply to every unit and nobody
// answers.
//
// Reading happens in a goroutine that may stay blocked in port.Read after
// ServeRTU returns; the caller closes the port to release it. A read that
// returns io.EOF without data is taken as a read timeout (tarm/serial
// reports its timeouts so) and reading goes on.
func (s *ModbusServer) ServeRTU(ctx context.Context, port io.ReadWriter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan []byte, 16)
	errc := make(chan error, 1)
	go readChunks(ctx, port, chunks, errc)

	var asm rtuAssembler
	var frameStart time.Time // when the first byte of the pending frame arrived
	gap := time.NewTimer(time.Hour)
	gap.Stop()
	defer gap.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read modbus rtu line: %w", err)
		case <-gap.C:
			if asm.pending() {
				s.log.Debug("modbus rtu partial frame discarded after silence", "bytes", len(asm.buf))
				asm.reset()
			}
		case b := <-chunks:
			if !asm.pending() {
				frameStart = time.Now()
			}
			asm.feed(b)
			for frame := asm.next(); frame != nil; frame = asm.next() {
				if err := s.answerRTU(port, frame, frameStart); err != nil {
					return err
				}
				frameStart = time.Now() // a next frame in the same chunk
			}
			if asm.pending() {
				gap.Reset(rtuGap)
			}
		}
	}
}

// readChunks copies what the port delivers onto chunks until an error.
func readChunks(ctx context.Context, port io.Reader, chunks chan<- []byte, errc chan<- error) {
	buf := make([]byte, 512)
	for {
		n, err := port.Read(buf)
		if n > 0 {
			select {
			case chunks <- append([]byte(nil), buf[:n]...):
			case <-ctx.Done():
				return
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF) && n == 0:
			select {
			case <-time.After(10 * time.Millisecond):
			case <-ctx.Done():
				return
			}
		case errors.Is(err, io.EOF):
		default:
			errc <- err
			return
		}
	}
}

// answerRTU handles one request frame, whose first byte arrived at start,
// and writes the reply, if any (when a real line would deliver it, under
// PaceLine).
func (s *ModbusServer) answerRTU(port io.Writer, frame []byte, start time.Time) error {
	id, pdu := frame[0], frame[1:len(frame)-2]
	if id == 0 {
		if pdu[0] == fcWriteSingleCoil || pdu[0] == fcWriteSingleReg ||
			pdu[0] == fcWriteMultipleCoils || pdu[0] == fcWriteMultipleRegs {
			for _, u := range s.units {
				u.serve(pdu)
			}
		}
		return nil
	}
	u := s.units[id]
	if u == nil {
		s.log.Debug("modbus rtu request for another unit", "unit", id)
		return nil
	}
	resp, fault := u.serve(pdu)
	var out []byte
	switch fault {
	case FaultTimeout, FaultDrop:
		return nil
	case FaultGarbage:
		out = garbage(len(resp) + 3)
	default:
		out = appendCRC(append([]byte{id}, resp...))
	}
	s.paceReply(start, len(frame), len(out))
	if _, err := port.Write(out); err != nil {
		return fmt.Errorf("write modbus rtu reply of unit %d: %w", id, err)
	}
	return nil
}
