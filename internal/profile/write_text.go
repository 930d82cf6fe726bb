package profile

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Text writes (issue 16, a message sign's message). A string point whose
// write block has text rules takes a text rather than a number: Text
// bounds its length in characters and the characters the device can
// show, which a vendor's document lists (a 7-segment digit shows a few
// letters, in one case each). The rules are checked by ingest before a
// command is sent and by the gateway before it writes, with the same
// operator-readable refusals. A Modbus string point is written as the
// manual of such displays describes it: two ASCII characters per
// register, the first in the high byte, ended by a NUL in the registers
// the text takes (see EncodeText).

// TextRules are the rules of a text write.
type TextRules struct {
	// MaxLength is the most characters the device shows (at most two per
	// register of the point).
	MaxLength int `yaml:"max_length"`
	// Charset names the set of characters the device shows (CharsetNames);
	// Chars lists them instead. Exactly one is given.
	Charset string `yaml:"charset"`
	Chars   string `yaml:"chars"`
	// Uppercase says the device has no lowercase: a text is upper-cased
	// before it is checked and written (NormalizeText).
	Uppercase bool `yaml:"uppercase"`
	// NoReadback says the vendor's document gives no way to read the text
	// back: a write is applied on the device's acknowledgement, and the
	// report says nothing could be read back (NoReadbackDetail).
	NoReadback bool `yaml:"no_readback"`
	// Messages are preset messages the map offers first, with Italian
	// labels; each must pass the rules.
	Messages []Message `yaml:"messages"`
}

// Message is a preset text of a text write.
type Message struct {
	Text  string `yaml:"text"`
	Label string `yaml:"label"`
}

// NoReadbackDetail is the detail of the applied report of a text write to
// a device that cannot be read back.
const NoReadbackDetail = "the display acknowledged the write; it offers no read-back"

// charsets are the named character sets of TextRules.Charset.
var charsets = map[string]string{
	// seven_segment: the characters a 7-segment digit of Ditel's DN-x9
	// large displays shows in ASCII mode, as the family's character table
	// lists them (firmware-profiles/ditel-dn-display-modbus.yaml cites
	// it): digits, the letters that have a 7-segment shape (each in the
	// case it has), space and , . - '.
	"seven_segment": "0123456789AbCcdEFHhiJLnoPrUu ,.-'",
	// ascii: printable ASCII, for dot-matrix displays.
	"ascii": " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
}

// CharsetNames lists the names TextRules.Charset accepts.
func CharsetNames() []string { return []string{"ascii", "seven_segment"} }

// Allowed returns the characters the device shows, as one string.
func (t *TextRules) Allowed() string {
	if t.Chars != "" {
		return t.Chars
	}
	return charsets[t.Charset]
}

// IsText reports whether w writes a text (a string point with text
// rules) rather than a number.
func (w *Write) IsText() bool { return w.Text != nil }

// NormalizeText returns s as it is checked and written: upper-cased when
// the device has no lowercase, otherwise unchanged.
func (w *Write) NormalizeText(s string) string {
	if w.Text != nil && w.Text.Uppercase {
		return strings.ToUpper(s)
	}
	return s
}

// CheckText reports whether the text s (NormalizeText first) may be
// written, and if not says why in terms an operator understands ("text:
// the character 'ù' cannot be shown on this display; allowed: ...").
func (w *Write) CheckText(s string) error {
	if w.Text == nil {
		return fmt.Errorf("text: this point takes a number (value), not a text")
	}
	t := w.Text
	if !utf8.ValidString(s) {
		return fmt.Errorf("text: expected UTF-8 text")
	}
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return fmt.Errorf("text: expected at least one character (a space blanks the display)")
	}
	allowed := t.Allowed()
	for _, r := range s {
		if !strings.ContainsRune(allowed, r) {
			return fmt.Errorf("text: the character %s cannot be shown on this display; allowed: %s", quoteRune(r), describeChars(allowed))
		}
	}
	if n > t.MaxLength {
		return fmt.Errorf("text: message of %d characters is longer than the %d the display shows", n, t.MaxLength)
	}
	return nil
}

// quoteRune quotes r for an operator: 'ù', or U+0007 for a character
// that does not print.
func quoteRune(r rune) string {
	if r < 0x20 || r == 0x7F || r == utf8.RuneError {
		return fmt.Sprintf("U+%04X", r)
	}
	return "'" + string(r) + "'"
}

// describeChars lists a character set for an operator: runs of digits
// shortened (0-9), the space named.
func describeChars(set string) string {
	var parts []string
	rs := []rune(set)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		j := i
		for j+1 < len(rs) && rs[j+1] == rs[j]+1 && isAlnum(rs[j+1]) && isAlnum(r) {
			j++
		}
		switch {
		case j-i >= 2:
			parts = append(parts, string(r)+"-"+string(rs[j]))
			i = j
		case r == ' ':
			parts = append(parts, "space")
		default:
			parts = append(parts, string(r))
		}
	}
	return strings.Join(parts, " ")
}

func isAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

// EncodeText returns the registers that write the text s to the string
// point p: two ASCII characters per register, the first in the high
// byte, ended by a NUL, in as many registers as that takes (the Ditel
// manual's "E 523" is 3 registers, 45 20 35 32 33 00), or every register
// of the point when the text fills them. A poll reads the point's
// registers up to the first NUL, so whatever a longer message left after
// it is not read. The text must fit (at most two characters per register)
// and be ASCII; the write rules' CheckText has already limited its
// characters.
func EncodeText(p *ModbusPoint, s string) ([]uint16, error) {
	if p.Table != TableHolding || p.Type != TypeString {
		return nil, fmt.Errorf("point %s: a %s %s point is not written with a text", p.Name, p.Table, p.Type)
	}
	if len(s) > 2*p.Length {
		return nil, fmt.Errorf("point %s: text of %d bytes does not fit %d registers (two characters each)", p.Name, len(s), p.Length)
	}
	regs := make([]uint16, min(p.Length, (len(s)+2)/2))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7E {
			return nil, fmt.Errorf("point %s: byte %d of the text is 0x%02X, not printable ASCII", p.Name, i, c)
		}
		if i%2 == 0 {
			regs[i/2] = uint16(c) << 8
		} else {
			regs[i/2] |= uint16(c)
		}
	}
	return regs, nil
}

// textWrite checks the text rules of a write block at path; registers is
// the point's length (0 when the point is not a Modbus string point).
func (v *validator) textWrite(path string, w *Write, registers int) {
	t := w.Text
	switch {
	case w.Min != nil || w.Max != nil || len(w.Enum) > 0 || w.Step != 0 || w.Tolerance != 0 || w.Safe != nil:
		v.errorf(path, "a text write takes text rules only (no min, max, enum, step, tolerance or safe)")
	case w.Readback != "":
		v.errorf(path+".readback", "a text is read back from its own registers (set text.no_readback when the device cannot be read)")
	}
	v.settle(path, w)
	tp := path + ".text"
	switch {
	case t.Charset == "" && t.Chars == "":
		v.errorf(tp+".charset", "required: a named set (%s) or chars, from the vendor's document", strings.Join(CharsetNames(), ", "))
	case t.Charset != "" && t.Chars != "":
		v.errorf(tp+".charset", "give either charset or chars, not both")
	case t.Charset != "" && charsets[t.Charset] == "":
		v.errorf(tp+".charset", "unknown set %q (expected one of %s, or chars)", t.Charset, strings.Join(CharsetNames(), ", "))
	case t.Chars != "" && (!utf8.ValidString(t.Chars) || strings.ContainsFunc(t.Chars, func(r rune) bool { return r < 0x20 || r == 0x7F })):
		v.errorf(tp+".chars", "expected printable characters")
	}
	switch {
	case t.MaxLength < 1:
		v.errorf(tp+".max_length", "%d: expected 1 or more characters", t.MaxLength)
	case registers > 0 && t.MaxLength > 2*registers:
		v.errorf(tp+".max_length", "%d characters do not fit the point's %d registers (two characters each)", t.MaxLength, registers)
	}
	if registers > 0 && strings.ContainsFunc(t.Allowed(), func(r rune) bool { return r > 0x7E }) {
		v.errorf(tp+".chars", "a Modbus string point takes ASCII characters only")
	}
	for i, m := range t.Messages {
		mp := fmt.Sprintf("%s.messages[%d]", tp, i)
		if m.Label == "" {
			v.errorf(mp+".label", "required (the label operators read on the map)")
		}
		if t.MaxLength >= 1 && (t.Charset == "" || charsets[t.Charset] != "") {
			if err := w.CheckText(w.NormalizeText(m.Text)); err != nil {
				v.errorf(mp+".text", "%q: %v", m.Text, err)
			}
		}
	}
}
