package modbus

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/goburrow/modbus"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
)

// recorder is a goburrow Transporter that keeps the ADU it was sent and
// answers with reply, its transaction id set to the request's.
type recorder struct {
	sent  []byte
	reply []byte
}

func (r *recorder) Send(adu []byte) ([]byte, error) {
	r.sent = bytes.Clone(adu)
	if r.reply == nil {
		return nil, errors.New("no reply")
	}
	out := bytes.Clone(r.reply)
	copy(out, adu[:2])
	return out, nil
}

// goburrowRead is goburrow's TCP client reading r from unit over rec.
func goburrowRead(unit byte, r *Request, rec *recorder) ([]byte, error) {
	h := modbus.NewTCPClientHandler("unused:502")
	h.SlaveId = unit
	return readWith(modbus.NewClient2(h, rec), r)
}

// adu builds a reply ADU: transaction id 1, unit, pdu.
func adu(unit byte, pdu ...byte) []byte {
	b := []byte{0, 1, 0, 0, 0, 0, unit}
	binary.BigEndian.PutUint16(b[4:], uint16(1+len(pdu)))
	return append(b, pdu...)
}

// Our read requests are the bytes goburrow's client sends for the same
// reads, and our parsing of a reply gives the same data, or an error of
// the same kind (classify), as goburrow's client for the same bytes.
func TestTCPFramingMatchesGoburrow(t *testing.T) {
	reqs := []struct {
		unit byte
		r    Request
	}{
		{1, Request{Table: profile.TableHolding, Address: 0, Count: 1}},
		{7, Request{Table: profile.TableHolding, Address: 40000, Count: 125}},
		{247, Request{Table: profile.TableInput, Address: 30, Count: 2}},
		{0, Request{Table: profile.TableCoil, Address: 5, Count: 2000}},
		{255, Request{Table: profile.TableDiscrete, Address: 65535, Count: 1}},
	}
	for _, c := range reqs {
		rec := &recorder{}
		_, _ = goburrowRead(c.unit, &c.r, rec)
		fc, _ := tableFunction(c.r.Table)
		ours := appendReadADU(nil, 1, c.unit, fc, c.r.Address, uint16(c.r.Count))
		if !bytes.Equal(ours, rec.sent) {
			t.Errorf("%s unit %d: ours % x, goburrow % x", c.r.String(), c.unit, ours, rec.sent)
		}
	}

	holding := Request{Table: profile.TableHolding, Address: 10, Count: 2}
	replies := []struct {
		name  string
		reply []byte
		kind  string // "" for data
	}{
		{"registers", adu(3, 3, 4, 0x12, 0x34, 0xAB, 0xCD), ""},
		{"exception", adu(3, 0x83, 2), KindException},
		{"other function", adu(3, 4, 4, 0, 0, 0, 0), KindComm},
		{"byte count too large", adu(3, 3, 5, 0, 0, 0, 0), KindComm},
		{"byte count too small", adu(3, 3, 3, 0, 0, 0, 0), KindComm},
		{"wrong unit", adu(4, 3, 4, 0, 0, 0, 0), KindComm},
		{"function code only", adu(3, 3), KindComm},
		{"length says more", func() []byte { b := adu(3, 3, 4, 0, 0, 0, 0); b[5]++; return b }(), KindComm},
		{"protocol id", func() []byte { b := adu(3, 3, 4, 0, 0, 0, 0); b[3] = 1; return b }(), KindComm},
	}
	for _, c := range replies {
		t.Run(c.name, func(t *testing.T) {
			gData, gErr := goburrowRead(3, &holding, &recorder{reply: c.reply})
			req := appendReadADU(nil, 1, 3, modbus.FuncCodeReadHoldingRegisters, holding.Address, uint16(holding.Count))
			data, err := replyPDU(req, c.reply)
			if err == nil {
				data, err = readData(data)
			}
			if (err == nil) != (gErr == nil) {
				t.Fatalf("ours %v, goburrow's %v", err, gErr)
			}
			if err == nil {
				if c.kind != "" || !bytes.Equal(data, gData) {
					t.Fatalf("data % x, goburrow's % x (want kind %q)", data, gData, c.kind)
				}
				return
			}
			kind, _ := classify(err)
			gKind, _ := classify(gErr)
			if kind != c.kind || gKind != c.kind {
				t.Errorf("kind %s (%v), goburrow's %s (%v), want %s", kind, err, gKind, gErr, c.kind)
			}
			var me, gMe *modbus.ModbusError
			if errors.As(gErr, &gMe) && (!errors.As(err, &me) || !reflect.DeepEqual(me, gMe)) {
				t.Errorf("ours %#v, goburrow's %#v", err, gErr)
			}
		})
	}
}

// mbapServer accepts one connection and answers each request it reads
// with answer(request), written as the given pieces.
func mbapServer(t testing.TB, answer func(req []byte) [][]byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req := make([]byte, 12)
				for {
					if _, err := io.ReadFull(c, req); err != nil {
						return
					}
					for _, p := range answer(req) {
						if _, err := c.Write(p); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// The link reads a reply split across TCP segments, and refuses (closing
// the connection) replies that do not belong to its request.
func TestTCPLinkReplies(t *testing.T) {
	r := &Request{Table: profile.TableHolding, Address: 0, Count: 2}
	reply := func(req []byte, pdu ...byte) []byte {
		b := adu(req[6], pdu...)
		copy(b, req[:2])
		return b
	}
	cases := []struct {
		name   string
		answer func(req []byte) [][]byte
		frame  bool // an errFrame, connection closed
	}{
		{"whole", func(req []byte) [][]byte { return [][]byte{reply(req, 3, 4, 1, 2, 3, 4)} }, false},
		{"split", func(req []byte) [][]byte {
			b := reply(req, 3, 4, 1, 2, 3, 4)
			return [][]byte{b[:3], b[3:8], b[8:]}
		}, false},
		{"old transaction", func(req []byte) [][]byte {
			b := reply(req, 3, 4, 1, 2, 3, 4)
			b[1]--
			return [][]byte{b}
		}, true},
		{"trailing bytes", func(req []byte) [][]byte { return [][]byte{append(reply(req, 3, 4, 1, 2, 3, 4), 0, 0)} }, true},
		{"length zero", func(req []byte) [][]byte { return [][]byte{{req[0], req[1], 0, 0, 0, 0, req[6], 3}} }, true},
		{"length too large", func(req []byte) [][]byte { return [][]byte{{req[0], req[1], 0, 0, 1, 0, req[6], 3}} }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newTCPLink(mbapServer(t, c.answer))
			defer l.close()
			for range 3 { // the buffers are reused; transaction ids move on
				data, err := l.read(context.Background(), 9, 5*time.Second, r)
				if c.frame {
					if !errors.Is(err, errFrame) || l.conn != nil {
						t.Fatalf("err %v, connection kept %t; want a frame error and the connection closed", err, l.conn != nil)
					}
					continue
				}
				if err != nil || !bytes.Equal(data, []byte{1, 2, 3, 4}) {
					t.Fatalf("read % x, %v", data, err)
				}
			}
		})
	}
}

// A reply that reached the socket before the request's deadline passed
// is taken even when the reader runs only after it (a descheduled process
// under CPU starvation): the deadline's timer must not win over data that
// came in time. The reply is in the socket before the read starts, and
// the read's deadline has passed when it does.
func TestTCPLinkTakesReplyAfterDeadline(t *testing.T) {
	l := newTCPLink("unused:502")
	defer l.close()
	peer := acceptPeer(t, l)
	// The peer answers transaction 1 before the request is even sent.
	b := adu(5, 3, 2, 0xBE, 0xEF)
	if _, err := peer.Write(b); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "the reply in the link's socket", func() bool { return pending(t, l) >= len(b) })
	// The deadline passed while the reader was not running.
	if err := l.conn.SetReadDeadline(time.Now().Add(-time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	reply, err := l.readReply()
	if err != nil || !bytes.Equal(reply, b) {
		t.Fatalf("read % x, %v; want the reply that had arrived, % x", reply, err, b)
	}
	// Nothing there: the passed deadline is a timeout, and a read after it
	// does not block.
	if err := l.conn.SetReadDeadline(time.Now().Add(-time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err = l.readReply(); !isTimeout(err) {
		t.Fatalf("read with nothing sent: %v, want a timeout", err)
	}
	// Half a reply there: a timeout too, not a wait for the rest.
	if _, err := peer.Write(b[:5]); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "half a reply in the link's socket", func() bool { return pending(t, l) >= 5 })
	if err := l.conn.SetReadDeadline(time.Now().Add(-time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err = l.readReply(); !isTimeout(err) {
		t.Fatalf("read of half a reply: %v, want a timeout", err)
	}
}

// acceptPeer replaces l's connection with one to a listener of the test's,
// and returns the listener's end.
func acceptPeer(t *testing.T, l *tcpLink) net.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l.close()
	l.addr = ln.Addr().String()
	if err := l.connect(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pending is how many bytes wait in l's socket (FIONREAD).
func pending(t *testing.T, l *tcpLink) int {
	n := 0
	if err := l.raw.Control(func(fd uintptr) {
		v, err := ioctlInt(int(fd), syscall.TIOCINQ)
		if err == nil {
			n = v
		}
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// FuzzReplyPDU: no reply bytes make the parser panic or return data
// outside the reply; what it accepts, goburrow's client accepts alike.
func FuzzReplyPDU(f *testing.F) {
	f.Add(adu(3, 3, 4, 0x12, 0x34, 0xAB, 0xCD), byte(3))
	f.Add(adu(3, 0x83, 2), byte(3))
	f.Add(adu(3, 3), byte(3))
	f.Add([]byte{0, 2, 0, 0, 0, 3, 3, 3, 0}, byte(3))       // another transaction
	f.Add([]byte{0, 1, 0, 0, 0, 1, 3}, byte(3))             // short
	f.Add(append(adu(3, 3, 4, 1, 2, 3, 4), 9, 9), byte(3))  // long
	f.Add([]byte{0, 1, 0, 0, 0xFF, 0xFF, 3, 3, 0}, byte(3)) // length beyond 260
	f.Add(adu(3, 1, 1, 0x05), byte(1))
	f.Fuzz(func(t *testing.T, reply []byte, fc byte) {
		req := appendReadADU(nil, 1, 3, fc, 0, 2)
		data, err := replyPDU(req, reply)
		if err == nil {
			data, err = readData(data)
		}
		if err != nil {
			return
		}
		if len(reply) > mbapMaxADU || len(data) > len(reply)-mbapHeader-2 {
			t.Fatalf("accepted %d data bytes from a %d-byte reply", len(data), len(reply))
		}
		// goburrow's client over the same reply (its transporter would have
		// read exactly this frame) takes it too, with the same data.
		h := modbus.NewTCPClientHandler("unused:502")
		h.SlaveId = 3
		pdu := &modbus.ProtocolDataUnit{FunctionCode: fc, Data: []byte{0, 0, 0, 2}}
		if err := h.Verify(req, reply); err != nil {
			t.Fatalf("goburrow refuses what we accept: %v", err)
		}
		got, err := h.Decode(reply)
		if err != nil || got.FunctionCode != pdu.FunctionCode || !bytes.Equal(got.Data[1:], data) {
			t.Fatalf("goburrow decodes %+v, %v; we took % x", got, err, data)
		}
	})
}

// BenchmarkTCPRead is one read of 100 holding registers over loopback
// from a server that answers from memory: our link against goburrow's
// TCP client (its handler as transporter, as the link was before), so
// allocs/op and CPU per read are the transport's.
func BenchmarkTCPRead(b *testing.B) {
	reply := adu(1, append([]byte{3, 200}, make([]byte, 200)...)...)
	answer := func(req []byte) [][]byte {
		copy(reply, req[:2])
		return [][]byte{reply}
	}
	r := &Request{Table: profile.TableHolding, Address: 0, Count: 100}
	for _, c := range []struct {
		name string
		read func(addr string) (func() ([]byte, error), func())
	}{
		{"ponte", func(addr string) (func() ([]byte, error), func()) {
			l := newTCPLink(addr)
			return func() ([]byte, error) { return l.read(context.Background(), 1, time.Second, r) }, func() { l.close() }
		}},
		{"goburrow", func(addr string) (func() ([]byte, error), func()) {
			h := modbus.NewTCPClientHandler(addr)
			h.SlaveId, h.Timeout, h.IdleTimeout = 1, time.Second, 0
			c := modbus.NewClient(h)
			return func() ([]byte, error) { return readWith(c, r) }, func() { h.Close() }
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			read, done := c.read(mbapServer(b, answer))
			defer done()
			if _, err := read(); err != nil { // connect
				b.Fatal(err)
			}
			cpu0, err := testenv.SelfCPU()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if data, err := read(); err != nil || len(data) != 200 {
					b.Fatalf("%d bytes, %v", len(data), err)
				}
			}
			// The server's CPU is in it too, the same for both clients.
			cpu1, _ := testenv.SelfCPU()
			b.ReportMetric(1e9*(cpu1-cpu0)/float64(b.N), "cpu_ns/op")
		})
	}
}
