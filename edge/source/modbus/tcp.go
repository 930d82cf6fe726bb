package modbus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/goburrow/modbus"
)

// tcpLink is a Modbus TCP connection shared by every unit behind one
// host:port. Reads are framed here (mbap.go) and carried by exchange:
// one write and, as a rule, one read per request, into buffers the link
// keeps, so a poll allocates nothing. Writes keep goburrow's client for
// their encoding and echo checks, over the same exchange.
//
// goburrow's TCP transporter, which this replaces for reads and carries,
// allocated the reply per request and read header and body in two
// reads; its Send is what its tests compare ours with (tcp_test.go).
type tcpLink struct {
	addr    string
	conn    net.Conn
	raw     syscall.RawConn // conn's, for the last look (see exchange)
	noRetry bool            // set while a write is in flight

	tid  uint16                   // the last transaction id sent by read
	req  [12]byte                 // a read request's ADU
	resp [mbapMaxADU + 1]byte     // one reply ADU; one more byte tells a reply too long
	pk   *modbus.TCPClientHandler // writes' packager only
	c    modbus.Client            // writes: pk's encoding over exchange
}

func newTCPLink(hostport string) *tcpLink {
	l := &tcpLink{addr: hostport, pk: modbus.NewTCPClientHandler(hostport)}
	l.c = modbus.NewClient2(l.pk, modbus.Transporter(sendFunc(l.send)))
	return l
}

func (l *tcpLink) read(_ context.Context, unit uint8, timeout time.Duration, r *Request) ([]byte, error) {
	// The request is bounded by timeout (the connect, then the write and
	// the reply together), which is also what a shutdown waits for at most.
	fc, ok := tableFunction(r.Table)
	if !ok {
		return nil, fmt.Errorf("unknown table %q", r.Table)
	}
	l.tid++
	adu := appendReadADU(l.req[:0], l.tid, unit, fc, r.Address, uint16(r.Count))
	reply, err := l.roundTrip(adu, timeout)
	if err != nil {
		return nil, err
	}
	data, err := replyPDU(adu, reply)
	if errors.Is(err, errFrame) {
		l.reset() // out of step: a late reply, or not Modbus
	}
	if err != nil {
		return nil, err
	}
	return readData(data)
}

func (l *tcpLink) write(_ context.Context, unit uint8, timeout time.Duration, w *writeOp) error {
	l.pk.SlaveId = unit
	l.pk.Timeout = timeout
	l.noRetry = true
	defer func() { l.noRetry = false }()
	return writeWith(l.c, w)
}

// send is goburrow's Transporter for writes.
func (l *tcpLink) send(adu []byte) ([]byte, error) { return l.roundTrip(adu, l.pk.Timeout) }

// roundTrip connects if needed and exchanges one request for its reply. A
// connection that was reused and fails with anything but a timeout (the
// peer or a NAT closed it while idle) is replaced and the request, a read,
// retried once; a failure on a fresh connection is the device's. The reply
// is in l.resp, valid until the next request.
func (l *tcpLink) roundTrip(adu []byte, timeout time.Duration) ([]byte, error) {
	reused := l.conn != nil
	if l.conn == nil {
		if err := l.connect(timeout); err != nil {
			return nil, err
		}
	}
	resp, err := l.exchange(adu, timeout)
	if err == nil {
		return resp, nil
	}
	l.reset()
	if !reused || isTimeout(err) || l.noRetry || errors.Is(err, errFrame) {
		return nil, err
	}
	if cerr := l.connect(timeout); cerr != nil {
		return nil, fmt.Errorf("%v; reconnect: %w", err, cerr)
	}
	resp, err = l.exchange(adu, timeout)
	if err != nil {
		l.reset()
	}
	return resp, err
}

func (l *tcpLink) connect(timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", l.addr, timeout)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	l.conn = c
	if sc, ok := c.(syscall.Conn); ok {
		l.raw, _ = sc.SyscallConn()
	}
	return nil
}

// exchange writes adu and reads one reply ADU whole, bounded by timeout
// from now. A reply that had reached the socket when the deadline passed
// is taken: a process descheduled past its deadline (a starved CPU) finds
// the deadline's timer before the socket's readiness when it runs again,
// and a reply that came in time would otherwise count as a timeout (the
// last look, one non-blocking read).
func (l *tcpLink) exchange(adu []byte, timeout time.Duration) ([]byte, error) {
	if err := l.conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	if _, err := l.conn.Write(adu); err != nil {
		return nil, err
	}
	return l.readReply()
}

// readReply reads one reply ADU into l.resp, within the connection's read
// deadline and the last look after it.
func (l *tcpLink) readReply() ([]byte, error) {
	n, want := 0, mbapHeader
	for n < want {
		m, err := l.conn.Read(l.resp[n:])
		var late error // the timeout, when the last look found bytes
		if err != nil && isTimeout(err) {
			late = err
			m, err = l.lastLook(l.resp[n:], err)
		}
		n += m
		if err != nil {
			return nil, err
		}
		if want == mbapHeader && n >= mbapHeader {
			if want, err = frameLen(l.resp[:n]); err != nil {
				return nil, err
			}
		}
		if late != nil && n < want { // the rest had not arrived either
			return nil, late
		}
	}
	if n > want {
		return nil, fmt.Errorf("%w: %d bytes after a reply of %d", errFrame, n-want, want)
	}
	return l.resp[:n], nil
}

// lastLook reads what is waiting on the socket without blocking, after a
// read failed with the timeout err; it returns err when nothing is.
func (l *tcpLink) lastLook(p []byte, err error) (int, error) {
	if l.raw == nil || len(p) == 0 || l.conn.SetReadDeadline(time.Time{}) != nil {
		return 0, err
	}
	n, rerr := 0, error(nil)
	if cerr := l.raw.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), p)
		return true // never wait: only what already arrived
	}); cerr != nil || rerr != nil || n <= 0 {
		return 0, err
	}
	return n, nil
}

func (l *tcpLink) reset() { _ = l.close() }

func (l *tcpLink) close() error {
	if l.conn == nil {
		return nil
	}
	err := l.conn.Close()
	l.conn, l.raw = nil, nil
	return err
}
