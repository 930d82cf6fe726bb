package sim

import (
	"time"
)

// LineTiming is how long a serial line takes to carry Modbus RTU frames,
// for a simulator on a pseudo-terminal, which moves bytes at memory speed,
// to answer when a device on a real line would (PaceLine). The zero
// LineTiming is no line: everything takes no time.
type LineTiming struct {
	// Baud is the line's rate in bits per second.
	Baud int
	// Bits is the bits of one character: start, data, parity, stop.
	Bits int
}

// NewLineTiming returns the timing of a line of baud with data bits,
// parity ("N", "E" or "O") and stop bits.
func NewLineTiming(baud, data int, parity string, stop int) LineTiming {
	bits := 1 + data + stop
	if parity != "" && parity != "N" {
		bits++
	}
	return LineTiming{Baud: baud, Bits: bits}
}

// Char is one character's time on the line.
func (t LineTiming) Char() time.Duration { return t.chars(1) }

// chars is the time of n characters, rounded down once.
func (t LineTiming) chars(n int) time.Duration {
	if t.Baud <= 0 {
		return 0
	}
	return time.Duration(n*t.Bits) * time.Second / time.Duration(t.Baud)
}

// Silence is the 3.5-character silence that ends a frame (Modbus over
// serial line V1.02, 2.5.1.1), fixed at 1.75 ms above 19200 baud.
func (t LineTiming) Silence() time.Duration {
	if t.Baud > 19200 {
		return 1750 * time.Microsecond
	}
	if t.Baud <= 0 {
		return 0
	}
	return time.Duration(35*t.Bits) * time.Second / time.Duration(10*t.Baud)
}

// Exchange is the time from the first character of a request of req bytes
// to the last character of its reply of resp bytes: the request's
// transmission, the silence after which the slave knows the request
// ended, and the reply's transmission (the slave's own turnaround is
// taken as nil, so this is the line's best case).
func (t LineTiming) Exchange(req, resp int) time.Duration {
	return t.chars(req+resp) + t.Silence()
}

// PaceLine makes ServeRTU answer as a device on a real line of timing t
// would: a reply is written when its last character would arrive,
// Exchange after the request's first byte reached the simulator. The zero
// LineTiming (the default) answers at once.
func (s *ModbusServer) PaceLine(t LineTiming) { s.line = t }

// paceReply waits until the reply of resp bytes to a request of req bytes
// that began arriving at start would have crossed the line.
func (s *ModbusServer) paceReply(start time.Time, req, resp int) {
	if s.line.Baud <= 0 {
		return
	}
	if wait := time.Until(start.Add(s.line.Exchange(req, resp))); wait > 0 {
		time.Sleep(wait)
	}
}
