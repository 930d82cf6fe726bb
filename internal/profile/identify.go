package profile

import (
	"fmt"
	"math"
	"regexp"
	"strconv"

	"github.com/ponte-city/ponte/wire"
)

// IdentifyCheck is one register that, with the profile's other checks,
// tells this model from others on the same line: a model or meter code, a
// fixed product string. ponte-ctl scan reads the checks of every profile
// from each unit that answers and suggests the profiles whose checks all
// hold; the simulator serves the expected value so scan can be tested.
//
// Exactly one of Equals, Range and Pattern says what the register must
// hold. Only registers the vendor's document gives as identifying belong
// here (Source cites the section): a guessed check suggests a wrong
// profile with confidence.
type IdentifyCheck struct {
	// Table, Address, Type, Order and Length place and decode the
	// register as a point's fields do (0-based address, as sent).
	Table   Table  `yaml:"table"`
	Address uint16 `yaml:"address"`
	Type    Type   `yaml:"type"`
	Order   Order  `yaml:"order"`
	Length  int    `yaml:"length"`
	// Equals is the exact value a numeric register holds.
	Equals *float64 `yaml:"equals"`
	// Range bounds a numeric register (a family of codes).
	Range *Range `yaml:"range"`
	// Pattern is a regular expression (RE2) the value's text must match:
	// a string register, or a number's decimal text.
	Pattern string `yaml:"pattern"`
	// Example is a value matching Pattern, checked at load time; the
	// simulator serves it. Required with Pattern.
	Example string `yaml:"example"`
	// Source cites the section of the vendor's document that gives the
	// register and its value.
	Source string `yaml:"source"`

	re *regexp.Regexp
}

// Point returns the check as a point named name, for reading it with the
// same planner and decoder as the register map.
func (c *IdentifyCheck) Point(name string) ModbusPoint {
	return ModbusPoint{Name: name, Table: c.Table, Address: c.Address, Type: c.Type, Order: c.Order, Length: c.Length}
}

// Match reports whether v, the register's decoded value, is what the
// check expects.
func (c *IdentifyCheck) Match(v wire.Value) bool {
	switch {
	case c.Equals != nil && c.Type == TypeFloat32:
		// A float32 register holds the float32 nearest the number written.
		f, ok := v.AsFloat()
		return ok && float32(f) == float32(*c.Equals)
	case c.Equals != nil:
		f, ok := v.AsFloat()
		return ok && f == *c.Equals
	case c.Range != nil:
		f, ok := v.AsFloat()
		return ok && !math.IsNaN(f) && c.Range.Contains(f)
	case c.re != nil && v.Kind == wire.KindString:
		return c.re.MatchString(v.S)
	case c.re != nil:
		return c.re.MatchString(v.String())
	}
	return false
}

// Expected returns the value the check expects, as the simulator serves
// it: Equals, the Range's lower bound (or upper, or 0), or Example.
func (c *IdentifyCheck) Expected() wire.Value {
	var f float64
	switch {
	case c.Equals != nil:
		f = *c.Equals
	case c.Range != nil && c.Range.Min != nil:
		f = *c.Range.Min
		if c.integer() {
			f = math.Ceil(f)
		}
	case c.Range != nil && c.Range.Max != nil:
		f = *c.Range.Max
		if c.integer() {
			f = math.Floor(f)
		}
	case c.Type == TypeString:
		return wire.String(c.Example)
	default:
		f, _ = strconv.ParseFloat(c.Example, 64)
	}
	switch c.Type {
	case TypeFloat32, TypeFloat64:
		return wire.Float(f)
	case TypeBool:
		return wire.Bool(f != 0)
	}
	return wire.Int(int64(f))
}

// Want describes what the check expects, for messages: "= 112",
// "in [1, 9]", "matches ^AQT4".
func (c *IdentifyCheck) Want() string {
	switch {
	case c.Equals != nil:
		return "= " + strconv.FormatFloat(*c.Equals, 'g', -1, 64)
	case c.Range != nil:
		return "in " + c.Range.String()
	}
	return "matches " + c.Pattern
}

// integer reports whether the check's register decodes to an integer.
func (c *IdentifyCheck) integer() bool {
	switch c.Type {
	case TypeFloat32, TypeFloat64, TypeString:
		return false
	}
	return true
}

// intBounds are the values each integer type can hold (float64 bounds
// of the 64-bit types are approximate, which only widens them).
var intBounds = map[Type][2]float64{
	TypeInt16: {math.MinInt16, math.MaxInt16}, TypeUint16: {0, math.MaxUint16},
	TypeInt32: {math.MinInt32, math.MaxInt32}, TypeUint32: {0, math.MaxUint32},
	TypeInt64: {math.MinInt64, math.MaxInt64}, TypeUint64: {0, math.MaxInt64},
	TypeBool: {0, 1}, TypeBitfield: {0, math.MaxUint16},
}

// holds reports whether the register of c's type can hold f.
func (c *IdentifyCheck) holds(f float64) bool {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return false
	}
	if !c.integer() {
		return c.Type != TypeFloat32 || math.Abs(f) <= math.MaxFloat32
	}
	b := intBounds[c.Type]
	return f == math.Trunc(f) && f >= b[0] && f <= b[1]
}

func (v *validator) identify(m *Modbus, maxRegs int) {
	for i := range m.Identify {
		c := &m.Identify[i]
		path := fmt.Sprintf("modbus.identify[%d]", i)
		pt := c.Point("identify")
		before := len(v.errs)
		v.modbusPoint(path, &pt, maxRegs)
		if len(v.errs) > before {
			continue
		}
		set := 0
		for _, b := range []bool{c.Equals != nil, c.Range != nil, c.Pattern != ""} {
			if b {
				set++
			}
		}
		if set != 1 {
			v.errorf(path, "give exactly one of equals, range and pattern (the value that identifies the model)")
			continue
		}
		v.required(path+".source", c.Source)
		numeric := c.Type != TypeString
		switch {
		case c.Pattern != "":
			re, err := regexp.Compile(c.Pattern)
			if err != nil {
				v.errorf(path+".pattern", "%q: %v", c.Pattern, err)
				continue
			}
			c.re = re
			if c.Example == "" {
				v.errorf(path+".example", "required with pattern (a value the model holds; the simulator serves it)")
			} else if !re.MatchString(c.Example) {
				v.errorf(path+".example", "%q does not match pattern %q", c.Example, c.Pattern)
			} else if f, err := strconv.ParseFloat(c.Example, 64); numeric && (err != nil || !c.holds(f) || c.Expected().String() != c.Example) {
				v.errorf(path+".example", "%q: expected a number a register of type %s holds, written as it reads back", c.Example, c.Type)
			}
		case !numeric:
			v.errorf(path+".type", "a string register is identified by pattern, not equals or range")
		case c.Equals != nil:
			if !c.holds(*c.Equals) {
				v.errorf(path+".equals", "%g: a register of type %s cannot hold it", *c.Equals, c.Type)
			}
		case c.Range != nil:
			if c.Range.Min == nil && c.Range.Max == nil {
				v.errorf(path+".range", "expected min, max or both")
			} else if e, _ := c.Expected().AsFloat(); !c.Range.Contains(e) || !c.holds(e) {
				v.errorf(path+".range", "%s: holds no value a register of type %s can hold", c.Range, c.Type)
			}
		}
		if c.Example != "" && c.Pattern == "" {
			v.errorf(path+".example", "example applies only with pattern")
		}
	}
}
