package profile

import (
	"fmt"
	"math"
)

var (
	modbusTables = []Table{TableCoil, TableDiscrete, TableInput, TableHolding}
	modbusTypes  = []Type{TypeInt16, TypeUint16, TypeInt32, TypeUint32, TypeInt64, TypeUint64,
		TypeFloat32, TypeFloat64, TypeBool, TypeString, TypeBitfield}
	orders = []Order{OrderABCD, OrderCDAB, OrderBADC, OrderDCBA, "ABCDEFGH", "GHEFCDAB", "BADCFEHG", "HGFEDCBA"}
)

// Protocol limits of one read request (Modbus Application Protocol v1.1b3, 6.1-6.4).
const (
	maxReadRegisters = 125
	maxReadBits      = 2000
)

func (v *validator) modbus(m *Modbus) {
	if m.Order != "" && m.Order.Normalize() == "" {
		v.errorf("modbus.order", "unknown order %q (expected one of %s)", m.Order, list(orders))
	}
	maxRegs := m.MaxRegisters
	if maxRegs == 0 {
		maxRegs = maxReadRegisters
	}
	if m.MaxRegisters < 0 || m.MaxRegisters > maxReadRegisters {
		v.errorf("modbus.max_registers", "%d: expected 1 to %d registers per request", m.MaxRegisters, maxReadRegisters)
	}
	if m.MaxBits < 0 || m.MaxBits > maxReadBits {
		v.errorf("modbus.max_bits", "%d: expected 1 to %d bits per request", m.MaxBits, maxReadBits)
	}
	if m.MaxGap < 0 {
		v.errorf("modbus.max_gap", "%d: expected 0 or more registers", m.MaxGap)
	}
	if len(m.Points) == 0 {
		v.errorf("modbus.points", "required (expected at least one point)")
	}
	seen := map[string]string{}
	for i := range m.Points {
		p := &m.Points[i]
		path := fmt.Sprintf("modbus.points[%d]", i)
		v.uniqueName(seen, path+".name", p.Name)
		v.modbusPoint(path, p, maxRegs)
	}
	for i := range m.Points {
		p, path := &m.Points[i], fmt.Sprintf("modbus.points[%d].write", i)
		switch {
		case p.Write == nil:
		case p.Write.Text != nil:
			v.textWrite(path, p.Write, p.Length)
		default:
			v.write(path, p.Write, p.Name, func(name string) bool { _, ok := seen[name]; return ok })
		}
	}
	v.identify(m, maxRegs)
}

func (v *validator) modbusPoint(path string, p *ModbusPoint, maxRegs int) {
	if !oneOf(p.Table, modbusTables) {
		v.errorf(path+".table", "unknown table %q (expected one of %s)", p.Table, list(modbusTables))
		return
	}
	if !oneOf(p.Type, modbusTypes) {
		v.errorf(path+".type", "unknown type %q (expected one of %s)", p.Type, list(modbusTypes))
		return
	}
	if p.Table.IsBit() && p.Type != TypeBool {
		v.errorf(path+".type", "%s table holds single bits: type must be bool, not %s", p.Table, p.Type)
		return
	}
	if p.Order != "" && p.Order.Normalize() == "" {
		v.errorf(path+".order", "unknown order %q (expected one of %s)", p.Order, list(orders))
	}
	switch {
	case p.Type == TypeString:
		if p.Length < 1 || p.Length > maxReadRegisters {
			v.errorf(path+".length", "string needs length 1 to %d registers, got %d", maxReadRegisters, p.Length)
		}
	case p.Length != 0:
		v.errorf(path+".length", "length applies only to string points")
	}
	onRegister := !p.Table.IsBit()
	switch {
	case p.Type == TypeBool && onRegister:
		if p.Bit < 0 || p.Bit > 15 {
			v.errorf(path+".bit", "bit %d: expected 0 to 15 (0 is the least significant bit)", p.Bit)
		}
	case p.Type == TypeBitfield:
		if p.Bits < 1 || p.Bits > 16 {
			v.errorf(path+".bits", "bitfield width %d: expected 1 to 16", p.Bits)
		} else if p.Bit < 0 || p.Bit+p.Bits > 16 {
			v.errorf(path+".bit", "bits %d..%d do not fit in a 16-bit register", p.Bit, p.Bit+p.Bits-1)
		}
	default:
		if p.Bit != 0 {
			v.errorf(path+".bit", "bit applies only to bool points on registers and bitfields")
		}
		if p.Bits != 0 {
			v.errorf(path+".bits", "bits applies only to bitfield points")
		}
	}
	if n := p.Registers(); int(p.Address)+n-1 > 0xFFFF {
		v.errorf(path+".address", "address %d + %d registers runs past 65535", p.Address, n)
	} else if !p.Table.IsBit() && n > maxRegs {
		v.errorf(path+".type", "point spans %d registers but the device answers at most %d per request (max_registers)", n, maxRegs)
	}
	if p.Poll != "" && p.Poll != PollFast && p.Poll != PollSlow {
		v.errorf(path+".poll", "unknown poll class %q (expected fast or slow)", p.Poll)
	}
	if p.Writable {
		v.errorf(path+".writable", "replaced by write: {min, max (or enum), readback, ...}, citing the vendor's document")
	}
	if p.Write != nil {
		switch {
		case p.Table == TableDiscrete || p.Table == TableInput:
			v.errorf(path+".write", "%s table is read-only in Modbus; only coil and holding points can be written", p.Table)
		case p.Type == TypeString && p.Write.Text == nil:
			v.errorf(path+".write", "a string point is written with text rules (write.text: max_length, charset)")
		case p.Type != TypeString && p.Write.Text != nil:
			v.errorf(path+".write.text", "text rules apply only to string points, not %s", p.Type)
		case !p.Table.IsBit() && (p.Type == TypeBool || p.Type == TypeBitfield):
			v.errorf(path+".write", "a %s inside a register cannot be written alone (it would overwrite the register's other bits)", p.Type)
		case p.Table == TableHolding:
			v.scaledWrite(path+".write", p)
		}
	}
	v.scaling(path, p.Scaling, p.Type)
	v.rng(path, p.Range)
	v.sim(path, p.Sim)
}

// scaledWrite checks that every value the write rules of the scaled
// integer point p accept is a whole raw value, so that a command is never
// rounded to a value the operator did not ask for: a range needs a step
// that is a multiple of the scale and a min on the device's grid; an enum
// value must be on the grid.
func (v *validator) scaledWrite(path string, p *ModbusPoint) {
	switch p.Type {
	case TypeInt16, TypeUint16, TypeInt32, TypeUint32, TypeInt64, TypeUint64:
	default:
		return
	}
	if !p.Scaling.Scaled() {
		return
	}
	res := p.Scaling.Scale
	if res == 0 {
		res = 1
	}
	onGrid := func(x float64) bool { // x is a whole number of res
		k := x / res
		return math.Abs(k-math.Round(k)) <= 1e-9*math.Max(1, math.Abs(k))
	}
	w := p.Write
	for i, c := range w.Enum {
		if !onGrid(c.Value - p.Scaling.Offset) {
			v.errorf(fmt.Sprintf("%s.enum[%d]", path, i), "%s is not a value the %s point can hold (raw = (value - %s) / %s must be a whole number)",
				fmtValue(c.Value), p.Type, fmtValue(p.Scaling.Offset), fmtValue(res))
		}
	}
	if w.Min == nil || w.Max == nil {
		return
	}
	switch {
	case w.Step <= 0:
		v.errorf(path+".step", "required for a scaled %s point (expected a multiple of its scale %s, the device's resolution)", p.Type, fmtValue(res))
	case !onGrid(w.Step):
		v.errorf(path+".step", "%s: expected a multiple of the point's scale %s (the device's resolution)", fmtValue(w.Step), fmtValue(res))
	}
	if !onGrid(*w.Min - p.Scaling.Offset) {
		v.errorf(path+".min", "%s: expected a value the %s point can hold (offset %s plus a multiple of its scale %s)", fmtValue(*w.Min), p.Type, fmtValue(p.Scaling.Offset), fmtValue(res))
	}
}
