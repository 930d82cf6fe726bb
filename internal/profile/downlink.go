package profile

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Template is a LoRaWAN downlink frame with one placeholder for the value
// a command writes: the parsed form of mqtt.downlinks[].payload. The text
// is hex bytes separated by spaces and exactly one placeholder among them,
// e.g. "08 01 {u8}" (Milesight WS558 switch 1, ws558-encoder.js
// controlSwitch: 0x08, change mask, state). Placeholders:
//
//	{u8}              one byte, 0 to 255
//	{u8<<k}           one byte holding the value shifted left by k (0-7),
//	                  for bit fields such as the WS558's state byte
//	                  (bit n = switch n+1): "08 02 {u8<<1}" writes switch 2
//	{u16le} {u16be}   unsigned 16-bit, little or big endian
//	{i16le} {i16be}   signed 16-bit (two's complement)
//	{u32le} {u32be}   unsigned 32-bit
//
// A Template is immutable after ParseTemplate and safe for concurrent use.
type Template struct {
	text   string
	prefix []byte // the bytes before the placeholder
	suffix []byte // the bytes after it
	ph     placeholder
}

// placeholder is the value slot of a Template.
type placeholder struct {
	name     string // as written, without braces: "u8<<1"
	size     int    // bytes: 1, 2 or 4
	signed   bool
	big      bool  // big endian (irrelevant for one byte)
	shift    uint  // left shift of a u8 (0-7)
	min, max int64 // the values the slot holds, after undoing the shift
}

// MaxDownlinkBytes bounds a template's frame: the largest LoRaWAN
// application payload (242 bytes at DR4 and above in EU868, LoRaWAN
// Regional Parameters RP002-1.0.3, table 2.4.6); most data rates carry
// less, and the network server refuses a frame too long for the device's
// current data rate.
const MaxDownlinkBytes = 242

// placeholders are the fixed-width forms; {u8<<k} is parsed apart.
var placeholders = map[string]placeholder{
	"u8":    {size: 1, max: math.MaxUint8},
	"u16le": {size: 2, max: math.MaxUint16},
	"u16be": {size: 2, big: true, max: math.MaxUint16},
	"i16le": {size: 2, signed: true, min: math.MinInt16, max: math.MaxInt16},
	"i16be": {size: 2, signed: true, big: true, min: math.MinInt16, max: math.MaxInt16},
	"u32le": {size: 4, max: math.MaxUint32},
	"u32be": {size: 4, big: true, max: math.MaxUint32},
}

// templateForms lists the placeholders for error messages.
const templateForms = "{u8}, {u8<<k} (k 0-7), {u16le}, {u16be}, {i16le}, {i16be}, {u32le} or {u32be}"

// ParseTemplate parses a downlink payload template. Its error says which
// token is wrong and what was expected.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{text: s}
	found := false
	n := 0
	for _, tok := range strings.Fields(s) {
		if strings.HasPrefix(tok, "{") {
			if found {
				return nil, fmt.Errorf("%q: a second placeholder %s (expected exactly one)", s, tok)
			}
			ph, err := parsePlaceholder(tok)
			if err != nil {
				return nil, fmt.Errorf("%q: %v", s, err)
			}
			t.ph, found = ph, true
			n += ph.size
			continue
		}
		b, err := hex.DecodeString(tok)
		if err != nil || len(b) != 1 {
			return nil, fmt.Errorf("%q: token %q: expected a byte as two hex digits (e.g. 08) or a placeholder %s", s, cut(tok), templateForms)
		}
		if found {
			t.suffix = append(t.suffix, b[0])
		} else {
			t.prefix = append(t.prefix, b[0])
		}
		n++
	}
	switch {
	case !found:
		return nil, fmt.Errorf("%q: no placeholder for the value (expected one of %s)", s, templateForms)
	case n > MaxDownlinkBytes:
		return nil, fmt.Errorf("%q: %d bytes (expected at most %d, the largest LoRaWAN payload)", s, n, MaxDownlinkBytes)
	}
	return t, nil
}

// parsePlaceholder parses one "{...}" token.
func parsePlaceholder(tok string) (placeholder, error) {
	bad := fmt.Errorf("placeholder %s: expected %s", cut(tok), templateForms)
	if !strings.HasSuffix(tok, "}") || len(tok) < 3 {
		return placeholder{}, bad
	}
	name := tok[1 : len(tok)-1]
	if ph, ok := placeholders[name]; ok {
		ph.name = name
		return ph, nil
	}
	k, ok := strings.CutPrefix(name, "u8<<")
	if !ok || len(k) != 1 {
		return placeholder{}, bad
	}
	shift, err := strconv.Atoi(k)
	if err != nil || shift < 0 || shift > 7 {
		return placeholder{}, bad
	}
	return placeholder{name: name, size: 1, shift: uint(shift), max: math.MaxUint8 >> shift}, nil
}

// cut shortens outside text for an error message.
func cut(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}

// String returns the template as written in the profile.
func (t *Template) String() string { return t.text }

// Len is the frame's length in bytes.
func (t *Template) Len() int { return len(t.prefix) + t.ph.size + len(t.suffix) }

// Encode returns the frame carrying v. v must be an integer that the
// placeholder holds; the error says what was expected.
func (t *Template) Encode(v float64) ([]byte, error) {
	ph := t.ph
	if math.IsNaN(v) || math.IsInf(v, 0) || v != math.Trunc(v) || v < float64(ph.min) || v > float64(ph.max) {
		return nil, fmt.Errorf("value %s does not fit {%s} of downlink %q (expected an integer %d to %d)", fmtValue(v), ph.name, t.text, ph.min, ph.max)
	}
	out := make([]byte, 0, t.Len())
	out = append(out, t.prefix...)
	u := uint32(int64(v)) // two's complement for i16, truncated to size below
	switch ph.size {
	case 1:
		out = append(out, byte(u<<ph.shift))
	case 2:
		out = order(ph.big).AppendUint16(out, uint16(u))
	case 4:
		out = order(ph.big).AppendUint32(out, u)
	}
	return append(out, t.suffix...), nil
}

// Decode returns the value a frame built from t carries; ok is false when
// payload is not such a frame (another length, other fixed bytes, or bits
// set below a shifted u8's value). It is the inverse of Encode: the
// simulator uses it to tell which point a downlink writes.
func (t *Template) Decode(payload []byte) (v float64, ok bool) {
	ph := t.ph
	if len(payload) != t.Len() || string(payload[:len(t.prefix)]) != string(t.prefix) ||
		string(payload[len(t.prefix)+ph.size:]) != string(t.suffix) {
		return 0, false
	}
	slot := payload[len(t.prefix) : len(t.prefix)+ph.size]
	switch ph.size {
	case 1:
		b := slot[0]
		if b&(1<<ph.shift-1) != 0 {
			return 0, false
		}
		return float64(b >> ph.shift), true
	case 2:
		u := order(ph.big).Uint16(slot)
		if ph.signed {
			return float64(int16(u)), true
		}
		return float64(u), true
	default:
		return float64(order(ph.big).Uint32(slot)), true
	}
}

// byteOrder is what binary.BigEndian and LittleEndian both are.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func order(big bool) byteOrder {
	if big {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// downlinkPayload parses a downlink's payload template at load, into
// d.Frame, and checks that every value its write rules allow fits it.
func (v *validator) downlinkPayload(path string, d *Downlink) {
	if strings.TrimSpace(d.Payload) == "" {
		v.errorf(path, "required (expected hex bytes with one placeholder, e.g. \"08 01 {u8}\")")
		return
	}
	t, err := ParseTemplate(d.Payload)
	if err != nil {
		v.errorf(path, "%v", err)
		return
	}
	d.Frame = t
	for _, x := range writeValues(&d.Write) {
		if _, err := t.Encode(x); err != nil {
			v.errorf(path, "the write rules allow %s, which the template cannot carry: %v", fmtValue(x), err)
		}
	}
}
