package modbus

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/goburrow/modbus"

	"github.com/ponte-city/ponte/internal/profile"
)

// Modbus/TCP framing (Modbus Messaging on TCP/IP Implementation Guide
// V1.0b, §3.1.3): every ADU is a 7-byte MBAP header (transaction id,
// protocol id 0, length of what follows, unit id) and a PDU of at most 253
// bytes. These functions are pure; tcpLink carries their frames.
const (
	mbapHeader = 7
	// mbapMaxADU is the largest ADU (§3.1.3: 260 bytes).
	mbapMaxADU = 260
	// mbapMinLength and mbapMaxLength bound the header's length field:
	// the unit id and at least a function code, at most the unit id and
	// a 253-byte PDU.
	mbapMinLength = 2
	mbapMaxLength = mbapMaxADU - mbapHeader + 1
)

// errFrame marks a reply that breaks the framing (length, protocol id,
// transaction id, unit id, trailing bytes): the connection is out of step
// and is closed.
var errFrame = errors.New("modbus tcp frame")

// tableFunction is the read function code of each table.
func tableFunction(t profile.Table) (byte, bool) {
	switch t {
	case profile.TableCoil:
		return modbus.FuncCodeReadCoils, true
	case profile.TableDiscrete:
		return modbus.FuncCodeReadDiscreteInputs, true
	case profile.TableHolding:
		return modbus.FuncCodeReadHoldingRegisters, true
	case profile.TableInput:
		return modbus.FuncCodeReadInputRegisters, true
	}
	return 0, false
}

// appendReadADU appends the 12-byte ADU of a read request: function fc,
// count items from addr, for unit, as transaction tid.
func appendReadADU(dst []byte, tid uint16, unit, fc byte, addr, count uint16) []byte {
	dst = binary.BigEndian.AppendUint16(dst, tid)
	dst = binary.BigEndian.AppendUint16(dst, 0) // protocol id: Modbus
	dst = binary.BigEndian.AppendUint16(dst, 6) // unit id, function code, address, count
	dst = append(dst, unit, fc)
	dst = binary.BigEndian.AppendUint16(dst, addr)
	return binary.BigEndian.AppendUint16(dst, count)
}

// frameLen returns the length of the ADU whose header starts hdr (at least
// mbapHeader bytes), or an errFrame for a length outside the protocol's.
func frameLen(hdr []byte) (int, error) {
	n := int(binary.BigEndian.Uint16(hdr[4:]))
	if n < mbapMinLength || n > mbapMaxLength {
		return 0, fmt.Errorf("%w: length %d in the reply header, expected %d to %d", errFrame, n, mbapMinLength, mbapMaxLength)
	}
	return mbapHeader - 1 + n, nil
}

// replyPDU checks a whole reply ADU against its request's ADU (transaction
// id, protocol id, unit id, function code) and returns the reply's data
// (the PDU after its function code). An exception reply, or a reply of
// another function code, is a *modbus.ModbusError as goburrow's client
// returns it, so classify sorts both clients' errors alike.
func replyPDU(req, adu []byte) ([]byte, error) {
	if len(adu) < mbapHeader+1 {
		return nil, fmt.Errorf("%w: reply of %d bytes", errFrame, len(adu))
	}
	if n, err := frameLen(adu); err != nil {
		return nil, err
	} else if n != len(adu) {
		return nil, fmt.Errorf("%w: reply of %d bytes, its header says %d", errFrame, len(adu), n)
	}
	if got, want := binary.BigEndian.Uint16(adu), binary.BigEndian.Uint16(req); got != want {
		return nil, fmt.Errorf("%w: reply transaction id %d, request %d", errFrame, got, want)
	}
	if p := binary.BigEndian.Uint16(adu[2:]); p != 0 {
		return nil, fmt.Errorf("%w: reply protocol id %d, expected 0", errFrame, p)
	}
	if adu[6] != req[6] {
		return nil, fmt.Errorf("%w: reply unit id %d, request %d", errFrame, adu[6], req[6])
	}
	fc, data := adu[mbapHeader], adu[mbapHeader+1:]
	if fc != req[mbapHeader] {
		me := &modbus.ModbusError{FunctionCode: fc}
		if len(data) > 0 {
			me.ExceptionCode = data[0]
		}
		return nil, me
	}
	if len(data) == 0 {
		return nil, errors.New("modbus: response data is empty")
	}
	return data, nil
}

// readData returns the values of a read reply's data (byte count, values),
// checking the byte count against the bytes that follow it.
func readData(data []byte) ([]byte, error) {
	if count := int(data[0]); count != len(data)-1 {
		return nil, fmt.Errorf("modbus: response data size '%d' does not match count '%d'", len(data)-1, count)
	}
	return data[1:], nil
}
