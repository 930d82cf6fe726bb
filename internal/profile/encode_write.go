package profile

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Encoding a command's value for a Modbus write (issue 16): the inverse
// of the read decoding (edge/source/modbus Decode). The scaling is
// inverted, raw = (value - Offset) / Scale; an integer type takes only a
// value whose raw value is a whole number (within 1e-9 relative, the
// error of the division): a value between two of the device's steps is
// refused, never rounded to a neighbour the operator did not ask for
// (with scale 10, 15 would become 20; an unscaled 99.6 would become 100,
// above a maximum of 99.6). A raw value that does not fit the type is
// refused too. A float type is stored as the nearest float of its width. Multi-register
// values are laid out in the point's effective byte/word order. A bit of
// a register (bool with bit, bitfield) is not writable by a command:
// writing it would take a read-modify-write the device does not make
// atomic, and no profile needs it yet. A string point with text rules is
// written as a text (EncodeText, write_text.go), never as a number.

// EncodeRegisters returns the registers that write v (engineering units)
// to the holding point p with byte/word order (Modbus.EffectiveOrder).
// The error names the point and, for a value that does not fit, the
// type's raw range.
func EncodeRegisters(p *ModbusPoint, order Order, v float64) ([]uint16, error) {
	if p.Table != TableHolding {
		return nil, fmt.Errorf("point %s: a %s point is not written with registers", p.Name, p.Table)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("point %s: value: expected a finite number", p.Name)
	}
	raw := p.Scaling.Invert(v)
	var b [8]byte
	var n int
	switch p.Type {
	case TypeInt16, TypeUint16, TypeInt32, TypeUint32, TypeInt64, TypeUint64:
		if err := wholeRaw(p, v, raw); err != nil {
			return nil, err
		}
		i, err := rawInt(p, raw)
		if err != nil {
			return nil, err
		}
		n = 2 * p.Type.Registers(0)
		switch n {
		case 2:
			binary.BigEndian.PutUint16(b[:], uint16(i))
		case 4:
			binary.BigEndian.PutUint32(b[:], uint32(i))
		default:
			binary.BigEndian.PutUint64(b[:], uint64(i))
		}
	case TypeFloat32:
		f := float32(raw)
		if math.IsInf(float64(f), 0) {
			return nil, fmt.Errorf("point %s: raw value %s is outside the float32 range ±%g", p.Name, fmtValue(raw), math.MaxFloat32)
		}
		binary.BigEndian.PutUint32(b[:], math.Float32bits(f))
		n = 4
	case TypeFloat64:
		binary.BigEndian.PutUint64(b[:], math.Float64bits(raw))
		n = 8
	default:
		return nil, fmt.Errorf("point %s: a %s point cannot be written by a command (only whole registers: int16 to uint64, float32, float64)", p.Name, p.Type)
	}
	wireBytes := make([]byte, n)
	if n > 2 {
		order.Arrange(wireBytes, b[:n])
	} else {
		copy(wireBytes, b[:n])
	}
	regs := make([]uint16, n/2)
	for i := range regs {
		regs[i] = binary.BigEndian.Uint16(wireBytes[2*i:])
	}
	return regs, nil
}

// EncodeCoil returns the state that writes v to the coil point p: 0 is
// off, 1 is on, anything else an error naming the point.
func EncodeCoil(p *ModbusPoint, v float64) (bool, error) {
	if p.Table != TableCoil {
		return false, fmt.Errorf("point %s: a %s point is not a coil", p.Name, p.Table)
	}
	switch v {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, fmt.Errorf("point %s: value %s: a coil takes 0 or 1", p.Name, fmtValue(v))
}

// Invert returns the raw value that Apply turns into v: (v - Offset) /
// Scale (Scale 0 taken as 1).
func (s Scaling) Invert(v float64) float64 {
	if !s.Scaled() {
		return v
	}
	v -= s.Offset
	if s.Scale != 0 {
		v /= s.Scale
	}
	return v
}

// Arrange lays out dst, the registers of a multi-register value as they
// travel, from src, the value's big-endian bytes, in order o. The
// permutation is its own inverse, so it also turns registers read back
// into the big-endian value. len(dst) must equal len(src), an even number.
func (o Order) Arrange(dst, src []byte) []byte {
	words := len(src) / 2
	swapW, swapB := o.SwapWords(), o.SwapBytes()
	for i := 0; i < words; i++ {
		from := i
		if swapW {
			from = words - 1 - i
		}
		hi, lo := src[2*from], src[2*from+1]
		if swapB {
			hi, lo = lo, hi
		}
		dst[2*i], dst[2*i+1] = hi, lo
	}
	return dst
}

// wholeRaw refuses v when its raw value raw is not a whole number (within
// 1e-9 relative): the integer point p cannot hold it, and the error says
// the device's resolution.
func wholeRaw(p *ModbusPoint, v, raw float64) error {
	if math.Abs(raw-math.Round(raw)) <= 1e-9*math.Max(1, math.Abs(raw)) {
		return nil
	}
	res, unit := p.Scaling.Scale, ""
	if res == 0 {
		res = 1
	}
	if p.Unit != "" && p.Unit != "1" {
		unit = " " + p.Unit
	}
	at := ""
	if p.Scaling.Offset != 0 {
		at = " from " + fmtValue(p.Scaling.Offset) + unit
	}
	return fmt.Errorf("point %s: value %s cannot be written exactly: the device's resolution is %s%s%s (a %s register), and it would be rounded to %s",
		p.Name, fmtValue(v), fmtValue(math.Abs(res)), unit, at, p.Type, fmtValue(p.Scaling.Apply(math.Round(raw))))
}

// rawInt rounds raw to an integer of p's type, or says why it does not
// fit. The uint64 range stops at the int64 maximum, as reads do (above it
// a read is refused as a not-available marker).
func rawInt(p *ModbusPoint, raw float64) (int64, error) {
	r := math.Round(raw)
	var lo, hi float64 // hi is exclusive for 64-bit types (2^63 is not an int64)
	switch p.Type {
	case TypeInt16:
		lo, hi = math.MinInt16, math.MaxInt16+1
	case TypeUint16:
		lo, hi = 0, math.MaxUint16+1
	case TypeInt32:
		lo, hi = math.MinInt32, math.MaxInt32+1
	case TypeUint32:
		lo, hi = 0, math.MaxUint32+1
	case TypeInt64:
		lo, hi = math.MinInt64, 1<<63
	default: // TypeUint64
		lo, hi = 0, 1<<63
	}
	if r < lo || r >= hi {
		return 0, fmt.Errorf("point %s: raw value %s does not fit %s (%s to %s)", p.Name, fmtValue(r), p.Type, fmtValue(lo), typeMax(p.Type, hi))
	}
	return int64(r), nil
}

func typeMax(t Type, hi float64) string {
	switch t {
	case TypeInt64, TypeUint64:
		return "9223372036854775807"
	}
	return fmtValue(hi - 1)
}
