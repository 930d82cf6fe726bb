package modbus

import (
	"context"
	"fmt"
	"time"

	"github.com/goburrow/modbus"
)

// link is one Modbus TCP connection or RTU line. A link is used by one bus
// goroutine only, so it needs no locking of its own.
type link interface {
	// read performs one read of r from unit and returns the data bytes of
	// the reply, bounded by timeout (and, where the transport allows, ctx).
	// The bytes may be the link's own buffer: valid until its next call.
	read(ctx context.Context, unit uint8, timeout time.Duration, r *Request) ([]byte, error)
	// write performs one write to unit, bounded like read. A write is
	// sent once: it is not retried on a fresh connection.
	write(ctx context.Context, unit uint8, timeout time.Duration, w *writeOp) error
	// reset forgets the state of the line after a failed exchange, so a
	// late or partial reply cannot be taken for the answer to the next
	// request: TCP closes the connection, RTU drains the line.
	reset()
	// close releases the connection or port.
	close() error
}

// readWith issues the function code matching r's table on c.
func readWith(c modbus.Client, r *Request) ([]byte, error) {
	addr, n := r.Address, uint16(r.Count)
	switch r.Table {
	case "coil":
		return c.ReadCoils(addr, n)
	case "discrete":
		return c.ReadDiscreteInputs(addr, n)
	case "input":
		return c.ReadInputRegisters(addr, n)
	case "holding":
		return c.ReadHoldingRegisters(addr, n)
	}
	return nil, fmt.Errorf("unknown table %q", r.Table)
}

// sendFunc adapts a function to modbus.Transporter.
type sendFunc func([]byte) ([]byte, error)

func (f sendFunc) Send(adu []byte) ([]byte, error) { return f(adu) }
