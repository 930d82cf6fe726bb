package wire

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Kind says which field of a Value holds the value.
type Kind uint8

// The value kinds a reading can carry. Integers keep their full 64-bit range
// (energy counters overflow float64's 53-bit mantissa in the field); floats
// are IEEE 754 doubles.
const (
	KindFloat Kind = iota
	KindInt
	KindBool
	KindString
)

// String returns the kind's name as used in profiles and JSON output.
func (k Kind) String() string {
	switch k {
	case KindFloat:
		return "float"
	case KindInt:
		return "int"
	case KindBool:
		return "bool"
	case KindString:
		return "string"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is a typed reading value. Only the field that Kind names is
// meaningful; the zero Value is the float 0.
type Value struct {
	Kind Kind
	F    float64
	I    int64
	B    bool
	S    string
}

// Float returns a float Value.
func Float(f float64) Value { return Value{Kind: KindFloat, F: f} }

// Int returns an integer Value.
func Int(i int64) Value { return Value{Kind: KindInt, I: i} }

// Bool returns a boolean Value.
func Bool(b bool) Value { return Value{Kind: KindBool, B: b} }

// String returns a string Value.
func String(s string) Value { return Value{Kind: KindString, S: s} }

// Any returns the value as a Go value (float64, int64, bool or string), the
// form JSON encoders and the InfluxDB client expect.
func (v Value) Any() any {
	switch v.Kind {
	case KindInt:
		return v.I
	case KindBool:
		return v.B
	case KindString:
		return v.S
	}
	return v.F
}

// AsFloat returns the value as a float64 for arithmetic (indicators,
// thresholds); ok is false for strings and non-finite floats.
func (v Value) AsFloat() (f float64, ok bool) {
	switch v.Kind {
	case KindFloat:
		return v.F, !math.IsNaN(v.F) && !math.IsInf(v.F, 0)
	case KindInt:
		return float64(v.I), true
	case KindBool:
		if v.B {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// String formats the value for people (tables, logs).
func (v Value) String() string {
	switch v.Kind {
	case KindInt:
		return strconv.FormatInt(v.I, 10)
	case KindBool:
		return strconv.FormatBool(v.B)
	case KindString:
		return strconv.Quote(v.S)
	}
	return strconv.FormatFloat(v.F, 'g', -1, 64)
}

// Quality says whether a reading can be trusted. Anything but QualityGood
// carries no usable value; the Reading's Reason says why.
type Quality uint8

// Qualities. The bad ones are split by cause because operators act on them
// differently: a comm failure sends a technician to the cabinet, a decode
// failure points at the profile, an exception at the device's configuration.
const (
	QualityGood      Quality = iota
	QualityBadComm           // no answer, connection refused or dropped, timeout
	QualityBadDevice         // the device answered with an error (e.g. a Modbus exception)
	QualityBadDecode         // an answer arrived but could not be decoded as the profile says
	QualityBadRange          // decoded, but outside the range the profile allows
)

// String returns the quality's name as used in JSON output and metrics.
func (q Quality) String() string {
	switch q {
	case QualityGood:
		return "good"
	case QualityBadComm:
		return "bad_comm"
	case QualityBadDevice:
		return "bad_device"
	case QualityBadDecode:
		return "bad_decode"
	case QualityBadRange:
		return "bad_range"
	}
	return fmt.Sprintf("quality(%d)", uint8(q))
}

// Good reports whether the quality is QualityGood.
func (q Quality) Good() bool { return q == QualityGood }

// Reading is one value of one point of one device at one instant, as a
// gateway acquired it.
type Reading struct {
	// Device is the device instance's name from the site config, unique per
	// gateway.
	Device string
	// Point is the point name from the device's profile.
	Point string
	// Value is the scaled, typed value; meaningless unless Quality is good.
	Value Value
	// Unit is the point's unit after scaling (UCUM-style, e.g. "V", "kWh", "ug/m3").
	Unit string
	// Time is the acquisition time from the gateway's clock.
	Time time.Time
	// Quality says whether Value can be trusted.
	Quality Quality
	// Reason explains a bad quality in words (e.g. "modbus exception 2:
	// illegal data address"); empty when good.
	Reason string
}
