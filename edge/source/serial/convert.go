package serial

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// convert turns a field's text into its typed, scaled value and checks its
// range. The reason is empty for a good value and otherwise says what was
// wrong with the text, quoting it.
//
//	int     decimal integer, optional sign; a wire int, or a float when
//	        the field is scaled
//	float   decimal number; NaN and infinities are bad_decode
//	bool    1/0, true/false, on/off, any case
//	string  the text as is (trimmed by the caller)
func convert(f *field, text string) (wire.Value, wire.Quality, string) {
	var x float64
	var v wire.Value
	switch f.typ {
	case profile.TypeInt:
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return wire.Value{}, wire.QualityBadDecode, fmt.Sprintf("%q is not an integer", text)
		}
		x, v = float64(i), wire.Int(i)
		if f.scaling.Scaled() {
			x = f.scaling.Apply(x)
			v = wire.Float(x)
		}
	case profile.TypeFloat:
		g, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsNaN(g) || math.IsInf(g, 0) {
			return wire.Value{}, wire.QualityBadDecode, fmt.Sprintf("%q is not a number", text)
		}
		x = f.scaling.Apply(g)
		if math.IsInf(x, 0) {
			return wire.Value{}, wire.QualityBadDecode, fmt.Sprintf("%q overflows when scaled", text)
		}
		v = wire.Float(x)
	case profile.TypeBool:
		switch strings.ToLower(text) {
		case "1", "true", "on":
			return wire.Bool(true), wire.QualityGood, ""
		case "0", "false", "off":
			return wire.Bool(false), wire.QualityGood, ""
		}
		return wire.Value{}, wire.QualityBadDecode, fmt.Sprintf("%q is not a boolean (expected 1/0, true/false, on/off)", text)
	case profile.TypeString:
		return wire.String(text), wire.QualityGood, ""
	default:
		return wire.Value{}, wire.QualityBadDecode, fmt.Sprintf("type %q cannot be read from text", f.typ)
	}
	if !f.rng.Contains(x) {
		return v, wire.QualityBadRange, fmt.Sprintf("%s outside the range %s", v, f.rng)
	}
	return v, wire.QualityGood, ""
}
