package profile

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func signWrite() *Write {
	return &Write{Text: &TextRules{MaxLength: 20, Charset: "seven_segment"}}
}

func TestCheckText(t *testing.T) {
	w := signWrite()
	for _, tc := range []struct{ text, want string }{
		{"PiEno", ""},
		{"120", ""},
		{" ", ""},
		{"", "text: expected at least one character (a space blanks the display)"},
		{"città", "text: the character 't' cannot be shown on this display; allowed: 0-9 A b C c d E F H h i J L n o P r U u space , . - '"},
		{"Cù", "text: the character 'ù' cannot be shown"},
		{"E\a5", "text: the character U+0007 cannot be shown"},
		{strings.Repeat("8", 24), "text: message of 24 characters is longer than the 20 the display shows"},
	} {
		err := w.CheckText(tc.text)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.text, err)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
	if err := (&Write{}).CheckText("x"); err == nil || !strings.Contains(err.Error(), "takes a number") {
		t.Errorf("numeric point: %v", err)
	}
	up := &Write{Text: &TextRules{MaxLength: 4, Chars: "ABC"}}
	up.Text.Uppercase = true
	if got := up.NormalizeText("abc"); got != "ABC" || up.CheckText(got) != nil {
		t.Errorf("uppercase: %q %v", got, up.CheckText(got))
	}
}

// The manual's example: "E 523" is 45h 20h 35h 32h 33h 00h, in as many
// registers as it takes (3); an even length takes one more for its NUL,
// and a text filling the point has none.
func TestEncodeText(t *testing.T) {
	p := &ModbusPoint{Name: "message", Table: TableHolding, Type: TypeString, Length: 10}
	for text, want := range map[string][]uint16{
		"E 523":                 {0x4520, 0x3532, 0x3300},
		"CodA":                  {0x436F, 0x6441, 0x0000},
		"":                      {0x0000},
		strings.Repeat("8", 20): {0x3838, 0x3838, 0x3838, 0x3838, 0x3838, 0x3838, 0x3838, 0x3838, 0x3838, 0x3838},
	} {
		regs, err := EncodeText(p, text)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(regs, want) {
			t.Errorf("%q: registers %04X, want %04X", text, regs, want)
		}
	}
	for _, tc := range []struct {
		p    *ModbusPoint
		text string
		want string
	}{
		{p, strings.Repeat("8", 21), "does not fit 10 registers"},
		{p, "é", "not printable ASCII"},
		{&ModbusPoint{Name: "n", Table: TableHolding, Type: TypeUint16}, "8", "not written with a text"},
	} {
		if _, err := EncodeText(tc.p, tc.text); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
}

// A text the checker accepts encodes, and decodes (NULs trimmed) to
// itself; nothing panics.
func FuzzCheckEncodeText(f *testing.F) {
	for _, s := range []string{"PiEno", "E 523", "", " ", "città", "\x00", strings.Repeat("8", 21)} {
		f.Add(s)
	}
	w := signWrite()
	p := &ModbusPoint{Name: "message", Table: TableHolding, Type: TypeString, Length: 10}
	f.Fuzz(func(t *testing.T, s string) {
		err := w.CheckText(s)
		regs, eerr := EncodeText(p, s)
		if err != nil {
			return
		}
		if eerr != nil {
			t.Fatalf("%q passes CheckText but does not encode: %v", s, eerr)
		}
		b := make([]byte, 0, 2*len(regs))
		for _, r := range regs {
			b = append(b, byte(r>>8), byte(r))
		}
		if i := strings.IndexByte(string(b), 0); i >= 0 {
			b = b[:i]
		}
		if string(b) != s || !utf8.ValidString(s) {
			t.Fatalf("%q encodes to %q", s, b)
		}
	})
}
