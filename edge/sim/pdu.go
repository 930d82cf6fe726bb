package sim

import (
	"encoding/binary"
	"time"
)

// Modbus function codes the simulator serves.
const (
	fcReadCoils          = 1
	fcReadDiscrete       = 2
	fcReadHolding        = 3
	fcReadInput          = 4
	fcWriteSingleCoil    = 5
	fcWriteSingleReg     = 6
	fcWriteMultipleCoils = 15
	fcWriteMultipleRegs  = 16
)

// Modbus exception codes.
const (
	exIllegalFunction    = 1
	exIllegalAddress     = 2
	exIllegalValue       = 3
	exDeviceFailure      = 4
	exGatewayNoResponse  = 0x0B
	maxReadRegs          = 125
	maxReadBits          = 2000
	maxWriteRegs         = 123
	maxWriteBits         = 1968
	maxPDU               = 253
	minRequestPDU        = 1
	writeMultipleHdrSize = 5 // address, quantity, byte count
)

func exception(fc byte, code byte) []byte { return []byte{fc | 0x80, code} }

// serve handles one request PDU addressed to the unit and returns the
// response PDU and the fault the transport must act on. A unit under
// FaultException answers exception 4 to everything.
func (u *ModbusUnit) serve(pdu []byte) ([]byte, Fault) {
	u.requests.Add(1)
	f := u.Fault()
	if len(pdu) < minRequestPDU {
		return nil, f
	}
	if f == FaultException {
		return exception(pdu[0], exDeviceFailure), FaultNone
	}
	if f == FaultSlow {
		time.Sleep(SlowDelay)
		return u.handle(pdu), FaultNone
	}
	return u.handle(pdu), f
}

// handle executes one request PDU (function code and data) and returns the
// response PDU. Checks follow the specification's order: function code,
// then quantity and length (exception 3), then address (exception 2).
//
// Reads are lenient inside the span a table's points cover (unmapped
// registers between points read as 0, as most meters do) and strict
// outside it. A device with one_request_per_point refuses reads touching
// several points with exception 2, as the real ones do.
func (u *ModbusUnit) handle(pdu []byte) []byte {
	fc, data := pdu[0], pdu[1:]
	switch fc {
	case fcReadCoils, fcReadDiscrete, fcReadHolding, fcReadInput:
		return u.read(fc, data)
	case fcWriteSingleCoil, fcWriteSingleReg:
		return u.writeSingle(fc, data)
	case fcWriteMultipleCoils, fcWriteMultipleRegs:
		return u.writeMultiple(fc, data)
	}
	return exception(fc, exIllegalFunction)
}

func (u *ModbusUnit) read(fc byte, data []byte) []byte {
	if len(data) != 4 {
		return exception(fc, exIllegalValue)
	}
	addr, qty := int(binary.BigEndian.Uint16(data)), int(binary.BigEndian.Uint16(data[2:]))
	table, limit := tHolding, u.maxRegs
	switch fc {
	case fcReadCoils:
		table, limit = tCoil, u.maxBits
	case fcReadDiscrete:
		table, limit = tDiscrete, u.maxBits
	case fcReadInput:
		table = tInput
	}
	if qty < 1 || qty > limit {
		return exception(fc, exIllegalValue)
	}
	inMap := u.spans[table].covers(addr, qty) && !(u.onePerPoint && u.pointsIn(table, addr, qty) > 1)
	if !inMap && !u.identCovers(table, addr, qty) {
		return exception(fc, exIllegalAddress)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	m := u.tables[table]
	if table == tCoil || table == tDiscrete {
		out := make([]byte, 2+(qty+7)/8)
		out[0], out[1] = fc, byte((qty+7)/8)
		for i := 0; i < qty; i++ {
			if m[uint16(addr+i)] != 0 {
				out[2+i/8] |= 1 << (i % 8)
			}
		}
		return out
	}
	out := make([]byte, 2+2*qty)
	out[0], out[1] = fc, byte(2*qty)
	for i := 0; i < qty; i++ {
		binary.BigEndian.PutUint16(out[2+2*i:], m[uint16(addr+i)])
	}
	return out
}

func (u *ModbusUnit) writeSingle(fc byte, data []byte) []byte {
	if len(data) != 4 {
		return exception(fc, exIllegalValue)
	}
	addr, val := int(binary.BigEndian.Uint16(data)), binary.BigEndian.Uint16(data[2:])
	table := tHolding
	if fc == fcWriteSingleCoil {
		table = tCoil
		switch val {
		case 0xFF00:
			val = 1
		case 0x0000:
		default:
			return exception(fc, exIllegalValue)
		}
	}
	if !u.spans[table].covers(addr, 1) || !u.writable(table, addr, 1) {
		return exception(fc, exIllegalAddress)
	}
	u.mu.Lock()
	u.tables[table][uint16(addr)] = val
	u.pinRange(table, addr, 1)
	u.countWrites(table, addr, 1)
	u.mu.Unlock()
	return append([]byte{fc}, data...)
}

func (u *ModbusUnit) writeMultiple(fc byte, data []byte) []byte {
	if len(data) < writeMultipleHdrSize {
		return exception(fc, exIllegalValue)
	}
	addr, qty := int(binary.BigEndian.Uint16(data)), int(binary.BigEndian.Uint16(data[2:]))
	count := int(data[4])
	table, limit, want := tHolding, maxWriteRegs, 2*qty
	if fc == fcWriteMultipleCoils {
		table, limit, want = tCoil, maxWriteBits, (qty+7)/8
	}
	if qty < 1 || qty > limit || count != want || len(data) != writeMultipleHdrSize+count {
		return exception(fc, exIllegalValue)
	}
	if !u.spans[table].covers(addr, qty) || !u.writable(table, addr, qty) {
		return exception(fc, exIllegalAddress)
	}
	vals := data[writeMultipleHdrSize:]
	u.mu.Lock()
	m := u.tables[table]
	for i := 0; i < qty; i++ {
		a := uint16(addr + i)
		if table == tCoil {
			m[a] = uint16(vals[i/8]>>(i%8)) & 1
		} else {
			m[a] = binary.BigEndian.Uint16(vals[2*i:])
		}
	}
	u.pinRange(table, addr, qty)
	u.countWrites(table, addr, qty)
	u.mu.Unlock()
	return append([]byte{fc}, data[:4]...)
}
