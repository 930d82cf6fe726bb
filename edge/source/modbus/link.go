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

// tcpLink is a Modbus TCP connection shared by every unit behind one
// host:port, with goburrow's MBAP packager and transporter.
type tcpLink struct {
	h         *modbus.TCPClientHandler
	c         modbus.Client
	connected bool
	noRetry   bool // set while a write is in flight
}

func newTCPLink(hostport string) *tcpLink {
	h := modbus.NewTCPClientHandler(hostport)
	// The bus keeps the connection for as long as it polls; goburrow's idle
	// timer would only add a goroutine racing the next poll.
	h.IdleTimeout = 0
	l := &tcpLink{h: h}
	l.c = modbus.NewClient2(h, modbus.Transporter(sendFunc(l.send)))
	return l
}

// sendFunc adapts a function to modbus.Transporter.
type sendFunc func([]byte) ([]byte, error)

func (f sendFunc) Send(adu []byte) ([]byte, error) { return f(adu) }

// send connects if needed and sends one request. A connection that was
// reused and fails with anything but a timeout (the peer or a NAT closed it
// while idle) is replaced and the request, a read, retried once; a failure
// on a fresh connection is the device's.
func (l *tcpLink) send(adu []byte) ([]byte, error) {
	reused := l.connected
	if !l.connected {
		if err := l.h.Connect(); err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
		l.connected = true
	}
	resp, err := l.h.Send(adu)
	if err == nil {
		return resp, nil
	}
	l.reset()
	if !reused || isTimeout(err) || l.noRetry {
		return nil, err
	}
	if cerr := l.h.Connect(); cerr != nil {
		return nil, fmt.Errorf("%v; reconnect: %w", err, cerr)
	}
	l.connected = true
	resp, err = l.h.Send(adu)
	if err != nil {
		l.reset()
	}
	return resp, err
}

func (l *tcpLink) read(_ context.Context, unit uint8, timeout time.Duration, r *Request) ([]byte, error) {
	// goburrow's handler has no context: the request is bounded by Timeout
	// (connect, write and read each), which is what shutdown waits for.
	l.h.SlaveId = unit
	l.h.Timeout = timeout
	return readWith(l.c, r)
}

func (l *tcpLink) write(_ context.Context, unit uint8, timeout time.Duration, w *writeOp) error {
	l.h.SlaveId = unit
	l.h.Timeout = timeout
	l.noRetry = true
	defer func() { l.noRetry = false }()
	return writeWith(l.c, w)
}

func (l *tcpLink) reset() {
	_ = l.h.Close()
	l.connected = false
}

func (l *tcpLink) close() error {
	l.connected = false
	return l.h.Close()
}
