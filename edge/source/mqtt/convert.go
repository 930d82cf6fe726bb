package mqtt

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// convert turns the JSON value r found for field f into a typed, scaled and
// range-checked value. A value that cannot be read as the field's type is
// bad_decode; one outside the field's range is bad_range and keeps the value
// (it helps whoever reads the log). The reason names path, what was
// expected and what was found.
func convert(f *profile.Field, path string, r gjson.Result) (wire.Value, wire.Quality, string) {
	var v wire.Value
	var why string
	switch f.Type {
	case profile.TypeInt:
		v, why = toInt(r)
	case profile.TypeFloat:
		v, why = toFloat(r)
	case profile.TypeBool:
		v, why = toBool(r)
	case profile.TypeString:
		v, why = toString(r)
	default:
		return wire.Value{}, wire.QualityBadDecode, fmt.Sprintf("%s: type %q is not an MQTT field type (expected int, float, bool or string)", path, f.Type)
	}
	if why != "" {
		return wire.Value{}, wire.QualityBadDecode, fmt.Sprintf("%s: expected %s, got %s", path, expectedName(f.Type), why)
	}
	if v.Kind != wire.KindInt && v.Kind != wire.KindFloat {
		return v, wire.QualityGood, ""
	}
	if f.Scaling.Scaled() {
		raw := v.F
		if v.Kind == wire.KindInt {
			raw = float64(v.I)
		}
		v = wire.Float(f.Scaling.Apply(raw))
		if math.IsInf(v.F, 0) || math.IsNaN(v.F) {
			return wire.Value{}, wire.QualityBadDecode, fmt.Sprintf("%s: scaled value %s is not finite", path, v)
		}
	}
	x, _ := v.AsFloat()
	if !f.Range.Contains(x) {
		return v, wire.QualityBadRange, fmt.Sprintf("%s: value %s outside range %s", path, v, f.Range)
	}
	return v, wire.QualityGood, ""
}

func expectedName(t profile.Type) string {
	switch t {
	case profile.TypeInt:
		return "an integer"
	case profile.TypeFloat:
		return "a number"
	case profile.TypeBool:
		return "a boolean (true/false, 0/1, on/off)"
	}
	return "a string"
}

// found describes a JSON value for error reasons, cut short so that a
// hostile payload cannot blow up a log line.
func found(r gjson.Result) string {
	raw := r.Raw
	if len(raw) > 40 {
		raw = raw[:40] + "..."
	}
	switch r.Type {
	case gjson.Null:
		return "null"
	case gjson.String:
		return "string " + raw
	case gjson.Number:
		return "number " + raw
	case gjson.True, gjson.False:
		return "boolean " + raw
	}
	if r.IsArray() {
		return "array " + raw
	}
	return "object " + raw
}

// toInt accepts JSON integers, numbers with no fraction (12.0, 1e3) and
// strings holding either. Integers are parsed from the raw text, not from
// float64, so that 64-bit counters above 2^53 keep every digit.
func toInt(r gjson.Result) (wire.Value, string) {
	var text string
	switch r.Type {
	case gjson.Number:
		text = r.Raw
	case gjson.String:
		text = strings.TrimSpace(r.Str)
	default:
		return wire.Value{}, found(r)
	}
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return wire.Int(i), ""
	}
	f, err := strconv.ParseFloat(text, 64)
	switch {
	case err != nil && !isRange(err):
		return wire.Value{}, found(r)
	case math.IsNaN(f) || math.IsInf(f, 0) || f >= 0x1p63 || f < -0x1p63:
		return wire.Value{}, found(r) + " (out of the int64 range)"
	case f != math.Trunc(f):
		return wire.Value{}, found(r) + " (has a fraction)"
	}
	return wire.Int(int64(f)), ""
}

// toFloat accepts JSON numbers and strings holding a finite number.
func toFloat(r gjson.Result) (wire.Value, string) {
	var text string
	switch r.Type {
	case gjson.Number:
		text = r.Raw
	case gjson.String:
		text = strings.TrimSpace(r.Str)
	default:
		return wire.Value{}, found(r)
	}
	f, err := strconv.ParseFloat(text, 64)
	switch {
	case err != nil && isRange(err):
		return wire.Value{}, found(r) + " (out of the float64 range)"
	case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
		return wire.Value{}, found(r)
	}
	return wire.Float(f), ""
}

// toBool accepts JSON booleans, the numbers 0 and 1 (codecs often encode
// occupancy that way), the strings strconv.ParseBool knows, and "on" and
// "off" in any case: Milesight's decoders output switch states so
// (SensorDecoders e79c9d8, ws-series/ws558/ws558-decoder.js,
// readSwitchStatus: 0 "off", 1 "on").
func toBool(r gjson.Result) (wire.Value, string) {
	switch r.Type {
	case gjson.True:
		return wire.Bool(true), ""
	case gjson.False:
		return wire.Bool(false), ""
	case gjson.Number:
		switch r.Raw {
		case "0":
			return wire.Bool(false), ""
		case "1":
			return wire.Bool(true), ""
		}
	case gjson.String:
		text := strings.TrimSpace(r.Str)
		switch {
		case strings.EqualFold(text, "on"):
			return wire.Bool(true), ""
		case strings.EqualFold(text, "off"):
			return wire.Bool(false), ""
		}
		if b, err := strconv.ParseBool(text); err == nil {
			return wire.Bool(b), ""
		}
	}
	return wire.Value{}, found(r)
}

// toString accepts strings, and numbers and booleans as their JSON text
// (a firmware version may arrive as 1.2 or "1.2").
func toString(r gjson.Result) (wire.Value, string) {
	switch r.Type {
	case gjson.String:
		return wire.String(r.Str), ""
	case gjson.Number, gjson.True, gjson.False:
		return wire.String(r.Raw), ""
	}
	return wire.Value{}, found(r)
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}
