package profile

import (
	"strings"
	"testing"
)

// TestEncodeRefusesRounding: a value between two of the device's steps is
// refused with the device's resolution, never rounded to a neighbour the
// operator did not ask for (security review of issue 16, item 5).
func TestEncodeRefusesRounding(t *testing.T) {
	min, max := 0.0, 99.6
	w := &Write{Min: &min, Max: &max}
	scaled := &ModbusPoint{Name: "setpoint", Table: TableHolding, Type: TypeUint16, Unit: "%", Scaling: Scaling{Scale: 10}, Write: w}
	plain := &ModbusPoint{Name: "lvl", Table: TableHolding, Type: TypeUint16, Write: w}
	tenth := &ModbusPoint{Name: "temp", Table: TableHolding, Type: TypeInt16, Unit: "°C", Scaling: Scaling{Scale: 0.1}, Write: w}
	for _, c := range []struct {
		p    *ModbusPoint
		v    float64
		want string // error substring; "" for a write
		raw  uint16
	}{
		{scaled, 15, "point setpoint: value 15 cannot be written exactly: the device's resolution is 10 % (a uint16 register), and it would be rounded to 20", 0},
		{scaled, 20, "", 2},
		{plain, 99.6, "point lvl: value 99.6 cannot be written exactly: the device's resolution is 1 (a uint16 register), and it would be rounded to 100", 0},
		{plain, 99, "", 99},
		{tenth, 21.7, "", 217}, // 21.7/0.1 = 216.99999999999997: within 1e-9
		{tenth, 21.75, "resolution is 0.1 °C", 0},
	} {
		regs, err := EncodeRegisters(c.p, Order(""), c.v)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s = %v: %v", c.p.Name, c.v, err)
		case c.want == "" && regs[0] != c.raw:
			t.Errorf("%s = %v: raw %d, want %d", c.p.Name, c.v, regs[0], c.raw)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s = %v: %v (regs %v), want an error containing %q", c.p.Name, c.v, err, regs, c.want)
		}
	}
}
