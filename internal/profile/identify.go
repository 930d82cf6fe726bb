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
	case c.Range != nil && c.Range.Max != nil:
		f = *c.Range.Max
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
			} else if _, err := strconv.ParseFloat(c.Example, 64); numeric && err != nil {
				v.errorf(path+".example", "%q: expected a number for a %s register", c.Example, c.Type)
			}
		case !numeric:
			v.errorf(path+".type", "a string register is identified by pattern, not equals or range")
		case c.Range != nil:
			if c.Range.Min == nil && c.Range.Max == nil {
				v.errorf(path+".range", "expected min, max or both")
			}
			v.rng(path, *c.Range)
		}
		if c.Example != "" && c.Pattern == "" {
			v.errorf(path+".example", "example applies only with pattern")
		}
	}
}
