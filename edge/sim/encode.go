package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// ErrUnknownPoint is returned by SetValue for a point the profile does not
// have.
var ErrUnknownPoint = errors.New("unknown point")

// ErrValueKind is returned when a value's kind does not fit the point's
// type (a string into a float32 register, say).
var ErrValueKind = errors.New("value kind does not fit the point type")

// regValue is what a point puts into its registers: Regs in register order,
// and for points sharing a register with others (bool on a register,
// bitfield) the Mask of the bits it owns in the single register.
type regValue struct {
	Regs []uint16
	Mask uint16
}

// encodePoint turns an engineering value into the point's raw registers:
// inverse scaling (raw = (v-Offset)/Scale), rounding and clamping to the
// type's range for integer types, then byte and word order. Order applies
// to values of two or four registers; 16-bit values and strings are
// always sent as Modbus sends them (high byte first, first character in
// the high byte).
func encodePoint(pt *profile.ModbusPoint, order profile.Order, v wire.Value) (regValue, error) {
	full := regValue{Mask: 0xFFFF}
	switch pt.Type {
	case profile.TypeString:
		s := v.S
		if v.Kind != wire.KindString {
			s = v.String()
		}
		b := make([]byte, 2*pt.Length)
		copy(b, s)
		full.Regs = bytesToRegs(b)
		return full, nil
	case profile.TypeBool:
		on, err := truth(v)
		if err != nil {
			return regValue{}, err
		}
		var r uint16
		if on {
			r = 1
		}
		if pt.Table.IsBit() {
			return regValue{Regs: []uint16{r}, Mask: 1}, nil
		}
		return regValue{Regs: []uint16{r << pt.Bit}, Mask: 1 << pt.Bit}, nil
	}
	if v.Kind == wire.KindString {
		return regValue{}, fmt.Errorf("%w: string into %s", ErrValueKind, pt.Type)
	}
	f, _ := v.AsFloat()
	exactInt := v.Kind == wire.KindInt && !pt.Scaling.Scaled()
	raw := f
	if pt.Scale != 0 {
		raw = (f - pt.Offset) / pt.Scale
	} else {
		raw = f - pt.Offset
	}
	var b []byte
	switch pt.Type {
	case profile.TypeBitfield:
		mask := uint16(1)<<pt.Bits - 1
		if pt.Bits >= 16 {
			mask = 0xFFFF
		}
		r := uint16(clampRound(raw, 0, float64(mask)))
		return regValue{Regs: []uint16{r << pt.Bit}, Mask: mask << pt.Bit}, nil
	case profile.TypeInt16:
		b = binary.BigEndian.AppendUint16(nil, uint16(int16(clampRound(raw, math.MinInt16, math.MaxInt16))))
	case profile.TypeUint16:
		b = binary.BigEndian.AppendUint16(nil, uint16(clampRound(raw, 0, math.MaxUint16)))
	case profile.TypeInt32:
		b = binary.BigEndian.AppendUint32(nil, uint32(int32(clampRound(raw, math.MinInt32, math.MaxInt32))))
	case profile.TypeUint32:
		b = binary.BigEndian.AppendUint32(nil, uint32(clampRound(raw, 0, math.MaxUint32)))
	case profile.TypeInt64:
		i := clampRoundI64(raw)
		if exactInt {
			i = v.I
		}
		b = binary.BigEndian.AppendUint64(nil, uint64(i))
	case profile.TypeUint64:
		u := clampRoundU64(raw)
		if exactInt && v.I >= 0 {
			u = uint64(v.I)
		}
		b = binary.BigEndian.AppendUint64(nil, u)
	case profile.TypeFloat32:
		b = binary.BigEndian.AppendUint32(nil, math.Float32bits(float32(raw)))
	case profile.TypeFloat64:
		b = binary.BigEndian.AppendUint64(nil, math.Float64bits(raw))
	default:
		return regValue{}, fmt.Errorf("%w: unknown type %q", ErrValueKind, pt.Type)
	}
	regs := bytesToRegs(b)
	if len(regs) > 1 {
		orderRegs(regs, order)
	}
	full.Regs = regs
	return full, nil
}

// orderRegs rearranges big-endian registers (ABCD...) into order: word
// swap reverses the register order (CDAB, GHEFCDAB), byte swap swaps the
// bytes of each register (BADC), both make the value fully little-endian.
func orderRegs(regs []uint16, order profile.Order) {
	if order.SwapWords() {
		for i, j := 0, len(regs)-1; i < j; i, j = i+1, j-1 {
			regs[i], regs[j] = regs[j], regs[i]
		}
	}
	if order.SwapBytes() {
		for i, r := range regs {
			regs[i] = r<<8 | r>>8
		}
	}
}

func bytesToRegs(b []byte) []uint16 {
	regs := make([]uint16, len(b)/2)
	for i := range regs {
		regs[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return regs
}

func truth(v wire.Value) (bool, error) {
	switch v.Kind {
	case wire.KindBool:
		return v.B, nil
	case wire.KindString:
		switch v.S {
		case "true", "1", "on":
			return true, nil
		case "false", "0", "off", "":
			return false, nil
		}
		return false, fmt.Errorf("%w: string %q into bool", ErrValueKind, v.S)
	}
	f, _ := v.AsFloat()
	return f >= 0.5, nil
}

// clampRound rounds to the nearest integer within lo..hi; NaN is 0 (or lo
// when 0 is out of range).
func clampRound(f, lo, hi float64) float64 {
	if math.IsNaN(f) {
		f = 0
	}
	f = math.Round(f)
	if f < lo {
		return lo
	}
	if f >= hi {
		return hi
	}
	return f
}

func clampRoundU64(f float64) uint64 {
	if math.IsNaN(f) || f <= 0 {
		return 0
	}
	if f >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(math.Round(f))
}

func clampRoundI64(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64: // 2^63 as a float64
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(math.Round(f))
}
