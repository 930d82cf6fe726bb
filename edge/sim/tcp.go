package sim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// mbapSize is the Modbus TCP header: transaction ID, protocol ID (0),
// length of what follows, unit ID.
const mbapSize = 7

// tcpUnit picks the unit for a Modbus TCP request. A server with a single
// unit also answers unit 0 and 255, which Modbus TCP clients use to
// address "the device itself".
func (s *ModbusServer) tcpUnit(id uint8) *ModbusUnit {
	if u := s.units[id]; u != nil {
		return u
	}
	if len(s.ids) == 1 && (id == 0 || id == 0xFF) {
		return s.units[s.ids[0]]
	}
	return nil
}

// ServeTCP accepts Modbus TCP connections on ln until ctx is done, serving
// each connection's requests in order and many connections at once. It
// closes ln and every connection when ctx is done and returns nil then; it
// returns an error only if accepting fails otherwise.
//
// A request for a unit the server does not have is answered with
// exception 0x0B (gateway target device failed to respond), as a Modbus
// TCP gateway in front of an RS-485 line answers for a silent unit.
// A header with a protocol ID other than 0 or an impossible length closes
// the connection, as real devices do: the stream cannot be resynchronised.
func (s *ModbusServer) ServeTCP(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept modbus tcp on %s: %w", ln.Addr(), err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, conn)
		}()
	}
}

func (s *ModbusServer) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	log := s.log.With("remote", conn.RemoteAddr().String())
	log.Debug("modbus tcp connection opened")
	for {
		req, err := readMBAP(conn)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				log.Debug("modbus tcp connection closed", "err", err)
			}
			return
		}
		resp, ok := s.answerTCP(req)
		if !ok {
			log.Info("modbus tcp connection dropped by fault", "unit", req.unit)
			return
		}
		if resp == nil {
			continue
		}
		if _, err := conn.Write(resp); err != nil {
			log.Debug("modbus tcp write failed", "err", err)
			return
		}
	}
}

// tcpRequest is one decoded Modbus TCP request.
type tcpRequest struct {
	tid  uint16
	unit uint8
	pdu  []byte
}

// errBadMBAP is returned for a header no Modbus TCP client sends.
var errBadMBAP = errors.New("bad MBAP header")

// readMBAP reads one request frame.
func readMBAP(r io.Reader) (tcpRequest, error) {
	var hdr [mbapSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return tcpRequest{}, err
	}
	req, n, err := parseMBAPHeader(hdr[:])
	if err != nil {
		return tcpRequest{}, err
	}
	req.pdu = make([]byte, n)
	if _, err := io.ReadFull(r, req.pdu); err != nil {
		return tcpRequest{}, fmt.Errorf("read modbus tcp pdu of %d bytes: %w", n, err)
	}
	return req, nil
}

// parseMBAPHeader decodes the 7-byte header and returns the PDU length
// that follows it.
func parseMBAPHeader(hdr []byte) (tcpRequest, int, error) {
	if len(hdr) < mbapSize {
		return tcpRequest{}, 0, fmt.Errorf("%w: %d bytes", errBadMBAP, len(hdr))
	}
	proto := binary.BigEndian.Uint16(hdr[2:])
	length := int(binary.BigEndian.Uint16(hdr[4:]))
	if proto != 0 {
		return tcpRequest{}, 0, fmt.Errorf("%w: protocol id %d", errBadMBAP, proto)
	}
	if length < 2 || length > maxPDU+1 {
		return tcpRequest{}, 0, fmt.Errorf("%w: length %d (expected 2 to %d)", errBadMBAP, length, maxPDU+1)
	}
	return tcpRequest{tid: binary.BigEndian.Uint16(hdr), unit: hdr[6]}, length - 1, nil
}

// answerTCP returns the bytes to send for req (nil: send nothing) and
// false when the connection must be dropped.
func (s *ModbusServer) answerTCP(req tcpRequest) ([]byte, bool) {
	u := s.tcpUnit(req.unit)
	if u == nil {
		return mbapFrame(req.tid, req.unit, exception(req.pdu[0], exGatewayNoResponse)), true
	}
	pdu, fault := u.serve(req.pdu)
	switch fault {
	case FaultTimeout:
		return nil, true
	case FaultDrop:
		return nil, false
	case FaultGarbage:
		// A reply with a wrong transaction and protocol ID: a client must
		// reject it, not mistake it for the answer.
		out := mbapFrame(req.tid^0x5A5A, req.unit, garbage(len(pdu)))
		binary.BigEndian.PutUint16(out[2:], 0xBEEF)
		return out, true
	}
	return mbapFrame(req.tid, req.unit, pdu), true
}

func mbapFrame(tid uint16, unit uint8, pdu []byte) []byte {
	out := make([]byte, mbapSize+len(pdu))
	binary.BigEndian.PutUint16(out, tid)
	binary.BigEndian.PutUint16(out[4:], uint16(len(pdu)+1))
	out[6] = unit
	copy(out[mbapSize:], pdu)
	return out
}
