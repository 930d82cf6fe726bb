package profile

import (
	"math"
	"strconv"

	"github.com/ponte-city/ponte/internal/yamlconf"
	"github.com/ponte-city/ponte/wire"
)

// Kind says how a profile's device is read.
type Kind string

// Profile kinds.
const (
	KindModbus Kind = "modbus"
	KindSerial Kind = "serial"
	KindMQTT   Kind = "mqtt"
)

// Profile describes one device model and firmware line. Exactly one of
// Modbus, Serial, MQTT and RSMP is set, matching Kind.
type Profile struct {
	// Model is the vendor's model name, e.g. "Eastron SDM630-Modbus V2".
	Model string `yaml:"model"`
	// Manufacturer is the vendor.
	Manufacturer string `yaml:"manufacturer"`
	// Firmware names the firmware line the map is valid for.
	Firmware string `yaml:"firmware"`
	// Source names the manual or datasheet, with its version, the map comes from.
	Source string `yaml:"source"`
	// Representative is true when the vendor's real map is not public and
	// the profile is a plausible stand-in; Source then says so.
	Representative bool `yaml:"representative"`
	// Category is what the device measures: one of wire.Categories, the
	// one list beside the wire contract, with its FIWARE types.
	Category wire.Category `yaml:"category"`
	// Kind selects the section below.
	Kind Kind `yaml:"kind"`

	Modbus *Modbus `yaml:"modbus,omitempty"`
	Serial *Serial `yaml:"serial,omitempty"`
	MQTT   *MQTT   `yaml:"mqtt,omitempty"`
	RSMP   *RSMP   `yaml:"rsmp,omitempty"`

	// File is the path the profile was loaded from; not part of the YAML.
	File string `yaml:"-"`
	doc  *yamlconf.Doc
}

// Type is a point's data type on the wire (Modbus) or in the text (serial,
// MQTT).
type Type string

// Point types. The 16/32/64-bit integer and float types are Modbus register
// encodings; serial and MQTT points use int, float, bool and string.
const (
	TypeInt16    Type = "int16"
	TypeUint16   Type = "uint16"
	TypeInt32    Type = "int32"
	TypeUint32   Type = "uint32"
	TypeInt64    Type = "int64"
	TypeUint64   Type = "uint64"
	TypeFloat32  Type = "float32"
	TypeFloat64  Type = "float64"
	TypeBool     Type = "bool"     // a coil, a discrete input, or bit Bit of a register
	TypeString   Type = "string"   // Modbus: Length registers, two ASCII bytes each, NULs trimmed
	TypeBitfield Type = "bitfield" // Modbus: Bits bits from bit Bit of a 16-bit register, as unsigned int
	TypeInt      Type = "int"      // serial and MQTT: a decimal integer
	TypeFloat    Type = "float"    // serial and MQTT: a decimal number
)

// Registers returns how many 16-bit registers a Modbus point of type t
// occupies (length is the string length in registers).
func (t Type) Registers(length int) int {
	switch t {
	case TypeInt32, TypeUint32, TypeFloat32:
		return 2
	case TypeInt64, TypeUint64, TypeFloat64:
		return 4
	case TypeString:
		return length
	}
	return 1
}

// Scaling turns a raw number into engineering units: value = raw*Scale + Offset.
type Scaling struct {
	// Scale multiplies the raw value; 0 in YAML means "not set", i.e. 1.
	Scale float64 `yaml:"scale"`
	// Offset is added after scaling.
	Offset float64 `yaml:"offset"`
}

// Apply returns raw*Scale+Offset (Scale 0 taken as 1), rounded to 12
// significant digits when scaling changed the value, so that 2340 x 0.01
// is stored and shown as 23.4 and not 23.400000000000002: no field device
// resolves more than 12 digits, and the binary residue would otherwise
// reach InfluxDB and every dashboard.
func (s Scaling) Apply(raw float64) float64 {
	if !s.Scaled() {
		return raw
	}
	if s.Scale != 0 {
		raw *= s.Scale
	}
	return RoundSignificant(raw+s.Offset, 12)
}

// RoundSignificant rounds v to the given number of significant decimal
// digits; NaN, infinities and zero are returned unchanged.
func RoundSignificant(v float64, digits int) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	exp := digits - 1 - int(math.Floor(math.Log10(math.Abs(v))))
	switch {
	case exp > 300 || exp < -300:
		return v
	case exp >= 0:
		// Both factors are exact for exp <= 22, and the division is
		// correctly rounded, so the result is the double nearest the
		// decimal.
		p := math.Pow10(exp)
		if r := math.Round(v*p) / p; !math.IsInf(r, 0) && !math.IsNaN(r) {
			return r
		}
		return v
	default:
		p := math.Pow10(-exp)
		return math.Round(v/p) * p
	}
}

// Scaled reports whether the scaling changes values (a scaled integer
// becomes a float reading).
func (s Scaling) Scaled() bool { return (s.Scale != 0 && s.Scale != 1) || s.Offset != 0 }

// Sim tells the simulator how a point's value moves over a day. It is
// optional: without it the simulator picks a pattern from the category and
// the unit.
type Sim struct {
	// Pattern is one of: constant, daily (a smooth day curve peaking at
	// Peak), traffic (morning and evening rush hours), parking (occupied by
	// day), counter (monotonic, Max per hour), random (uniform noise), toggle.
	Pattern string `yaml:"pattern"`
	// Min and Max bound the value (for counter: Min is the value at the
	// simulator's start and Max the increase per hour).
	Min float64 `yaml:"min"`
	Max float64 `yaml:"max"`
	// Peak is the hour of the day (0-24) of the maximum, for daily.
	Peak float64 `yaml:"peak"`
	// Noise is the relative noise added, 0..1.
	Noise float64 `yaml:"noise"`
}

// Range bounds a decoded value; a value outside it is a bad_range reading.
type Range struct {
	Min *float64 `yaml:"min"`
	Max *float64 `yaml:"max"`
}

// String formats the range as "[min, max]", an unset bound as -inf or +inf.
func (r Range) String() string {
	lo, hi := "-inf", "+inf"
	if r.Min != nil {
		lo = strconv.FormatFloat(*r.Min, 'g', -1, 64)
	}
	if r.Max != nil {
		hi = strconv.FormatFloat(*r.Max, 'g', -1, 64)
	}
	return "[" + lo + ", " + hi + "]"
}

// Contains reports whether v is within the range (unset bounds are open).
func (r Range) Contains(v float64) bool {
	return (r.Min == nil || v >= *r.Min) && (r.Max == nil || v <= *r.Max)
}
