package modbus

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// ValueError says why the bytes read for a point gave no usable value. Its
// Quality is wire.QualityBadDecode (the bytes do not hold a value of the
// point's type: wrong length, NaN, not ASCII, out of int64 range) or
// wire.QualityBadRange (a value, but outside the profile's range).
type ValueError struct {
	Point   string
	Quality wire.Quality
	Reason  string
}

// Error returns "point NAME: REASON".
func (e *ValueError) Error() string { return "point " + e.Point + ": " + e.Reason }

// Decode turns the raw bytes of one point into its typed, scaled value.
//
// raw is what the read returned for the point: 2 bytes per register in wire
// order for register tables, or a single byte (0 or 1) holding the bit for
// coil and discrete tables. order is the point's effective byte/word order
// (profile.Modbus.EffectiveOrder); it applies to 32- and 64-bit values only,
// because a single register is always big-endian in the Modbus PDU.
//
// Integers stay wire.Int unless the point has a scale or offset, in which
// case they become wire.Float. A uint64 above math.MaxInt64 is a decode
// error rather than a silently rounded float: such values are almost always
// a vendor's "not available" sentinel (0xFFFF...). The error, if any, is a
// *ValueError.
func Decode(p *profile.ModbusPoint, order profile.Order, raw []byte) (wire.Value, error) {
	v, err := decodeRaw(p, order, raw)
	if err != nil {
		return wire.Value{}, err
	}
	if f, ok := v.AsFloat(); ok && v.Kind != wire.KindBool && !p.Range.Contains(f) {
		return v, &ValueError{Point: p.Name, Quality: wire.QualityBadRange,
			Reason: fmt.Sprintf("value %s outside range %s", v, p.Range)}
	}
	return v, nil
}

func decodeRaw(p *profile.ModbusPoint, order profile.Order, raw []byte) (wire.Value, error) {
	bad := func(format string, args ...any) (wire.Value, error) {
		return wire.Value{}, &ValueError{Point: p.Name, Quality: wire.QualityBadDecode, Reason: fmt.Sprintf(format, args...)}
	}
	if p.Table.IsBit() {
		if len(raw) != 1 {
			return bad("expected 1 byte for a %s bit, got %d", p.Table, len(raw))
		}
		return wire.Bool(raw[0] != 0), nil
	}
	if want := 2 * p.Type.Registers(p.Length); len(raw) != want {
		return bad("expected %d bytes (%d registers) for %s, got %d", want, want/2, p.Type, len(raw))
	}
	switch p.Type {
	case profile.TypeInt16:
		return scaleInt(p, int64(int16(binary.BigEndian.Uint16(raw)))), nil
	case profile.TypeUint16:
		return scaleInt(p, int64(binary.BigEndian.Uint16(raw))), nil
	case profile.TypeBool:
		reg := binary.BigEndian.Uint16(raw)
		if p.Bit < 0 || p.Bit > 15 {
			return bad("bit %d is outside a 16-bit register", p.Bit)
		}
		return wire.Bool(reg>>uint(p.Bit)&1 != 0), nil
	case profile.TypeBitfield:
		bits := p.Bits
		if bits == 0 {
			bits = 1
		}
		if p.Bit < 0 || bits < 0 || p.Bit+bits > 16 {
			return bad("bits %d..%d are outside a 16-bit register", p.Bit, p.Bit+bits-1)
		}
		reg := uint64(binary.BigEndian.Uint16(raw))
		return scaleInt(p, int64(reg>>uint(p.Bit)&(1<<uint(bits)-1))), nil
	case profile.TypeString:
		return decodeString(p, raw)
	}
	var buf [8]byte
	b := order.Arrange(buf[:len(raw)], raw)
	switch p.Type {
	case profile.TypeInt32:
		return scaleInt(p, int64(int32(binary.BigEndian.Uint32(b)))), nil
	case profile.TypeUint32:
		return scaleInt(p, int64(binary.BigEndian.Uint32(b))), nil
	case profile.TypeInt64:
		return scaleInt(p, int64(binary.BigEndian.Uint64(b))), nil
	case profile.TypeUint64:
		u := binary.BigEndian.Uint64(b)
		if u > math.MaxInt64 {
			return bad("uint64 %d (0x%016X) is above the int64 range (a not-available marker?)", u, u)
		}
		return scaleInt(p, int64(u)), nil
	case profile.TypeFloat32:
		f32 := math.Float32frombits(binary.BigEndian.Uint32(b))
		if math.IsNaN(float64(f32)) || math.IsInf(float64(f32), 0) {
			return bad("float32 bytes % X are %v", bytes.Clone(b), f32)
		}
		return wire.Float(p.Scaling.Apply(widen(f32))), nil
	case profile.TypeFloat64:
		f := math.Float64frombits(binary.BigEndian.Uint64(b))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return bad("float64 bytes % X are %v", bytes.Clone(b), f)
		}
		return wire.Float(p.Scaling.Apply(f)), nil
	}
	return bad("type %q cannot be read over Modbus", p.Type)
}

// scaleInt keeps an integer an integer unless the point scales it.
func scaleInt(p *profile.ModbusPoint, i int64) wire.Value {
	if p.Scaling.Scaled() {
		return wire.Float(p.Scaling.Apply(float64(i)))
	}
	return wire.Int(i)
}

// decodeString reads two ASCII characters per register, high byte first.
// The value ends at the first NUL; trailing spaces are padding.
func decodeString(p *profile.ModbusPoint, raw []byte) (wire.Value, error) {
	s := raw
	for i, c := range s {
		if c == 0 {
			s = s[:i]
			break
		}
	}
	for i, c := range s {
		if c < 0x20 || c > 0x7E {
			return wire.Value{}, &ValueError{Point: p.Name, Quality: wire.QualityBadDecode,
				Reason: fmt.Sprintf("string byte %d is 0x%02X, not printable ASCII", i, c)}
		}
	}
	return wire.String(strings.TrimRight(string(s), " ")), nil
}

// widen returns the float64 nearest the shortest decimal that identifies
// f: a meter's 230.1 V arrives as float32 0x43661999, which is exactly
// 230.10000610351562 as a float64; the device meant 230.1, and that is what
// operators, InfluxDB and the twin should see.
func widen(f float32) float64 {
	var buf [32]byte
	v, err := strconv.ParseFloat(string(strconv.AppendFloat(buf[:0], float64(f), 'g', -1, 32)), 64)
	if err != nil {
		return float64(f)
	}
	return v
}
