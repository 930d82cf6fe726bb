package profile

import (
	"strings"
	"testing"
)

// TestWXT530WindInterval checks the shipped WXT530 request against the
// user guide M211840EN-D, 8.1.1.1 and 8.1.1.3.
func TestWXT530WindInterval(t *testing.T) {
	p, err := Load("../../firmware-profiles/vaisala-wxt530-nmea.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wp, err := p.Writable("wind_update_interval")
	if err != nil {
		t.Fatal(err)
	}
	if err := wp.Write.Check(3601, wp.Unit); err == nil || err.Error() != "value 3601 is above the maximum 3600 s" {
		t.Fatalf("Check(3601) = %v", err)
	}
	if wp.Description == "" {
		t.Error("no description")
	}
	r := &p.Serial.Requests[0]
	line, err := r.Line.Encode(10)
	if err != nil || string(line) != "0WU,I=10\r\n" {
		t.Fatalf("Encode(10) = %q, %v", line, err)
	}
	if got := string(r.ReadbackLine()); got != "0WU\r\n" {
		t.Fatalf("readback request %q", got)
	}
	cases := []struct {
		line string
		v    float64
		ok   bool
	}{
		{"0WU,R=01001000&00100100,I=60,A=10,G=1,U=N,D= -90,N=W,F=4", 60, true}, // the guide's answer
		{"0WU,R=11111100&01001000,I=5,A=3,G=1,U=M,D=0,N=W,F=4", 5, true},
		{"0WU,I=10", 0, false}, // the echo of a change
		{"$WIMWV,284,R,3.4,M,A*37", 0, false},
		{"0TX,Unknown cmd error", 0, false},
	}
	for _, c := range cases {
		v, ok, err := r.ParseAnswer(c.line)
		if ok != c.ok || v != c.v || err != nil {
			t.Errorf("ParseAnswer(%q) = %v %v %v, want %v %v", c.line, v, ok, err, c.v, c.ok)
		}
	}
}

func TestLineTemplate(t *testing.T) {
	cases := []struct {
		tmpl string
		v    float64
		want string
	}{
		{`0WU,I={value}\r\n`, 10, "0WU,I=10\r\n"},
		{"0WU,D={value}\r\n", -90, "0WU,D=-90\r\n"},
		{`set {value}\\\t`, 2.5, "set 2.5\\\t"},
		{"{value}", 0.1, "0.1"},
		{"{value}", 1e21, "1000000000000000000000"},
	}
	for _, c := range cases {
		tp, err := ParseLineTemplate(c.tmpl)
		if err != nil {
			t.Fatalf("%q: %v", c.tmpl, err)
		}
		got, err := tp.Encode(c.v)
		if err != nil || string(got) != c.want {
			t.Errorf("%q.Encode(%v) = %q, %v; want %q", c.tmpl, c.v, got, err, c.want)
		}
		if back, ok := tp.Decode(got); !ok || back != c.v {
			t.Errorf("%q.Decode(%q) = %v %v", c.tmpl, got, back, ok)
		}
	}
	bad := map[string]string{
		"0WU\r\n":        "no {value} placeholder",
		"{value}{value}": "a second {value}",
		`{value}\`:       `a lone \ at the end`,
		"{value}\x00":    "control byte 0x00",
		"{val}{value}":   "unexpected '{'",
		strings.Repeat("x", MaxRequestLine) + "{value}": "bytes (expected at most",
	}
	for tmpl, want := range bad {
		if _, err := ParseLineTemplate(tmpl); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseLineTemplate(%q) = %v, want %q", cut(tmpl), err, want)
		}
	}
}

// FuzzLineTemplate: no template text panics; a line a template encodes
// decodes back to the value; Decode of any line never panics.
func FuzzLineTemplate(f *testing.F) {
	for _, s := range []string{`0WU,I={value}\r\n`, "0WU,I={value}\r\n", "{value}", `{value}\`, "{value}{value}", "a{b}{value}"} {
		f.Add(s, 10.0, []byte("0WU,I=10\r\n"))
	}
	f.Fuzz(func(t *testing.T, s string, v float64, line []byte) {
		tp, err := ParseLineTemplate(s)
		if err != nil {
			return
		}
		tp.Decode(line)
		b, err := tp.Encode(v)
		if err != nil {
			return
		}
		if back, ok := tp.Decode(b); !ok || back != v {
			t.Fatalf("%q: Encode(%v) = %q decodes as %v %v", s, v, b, back, ok)
		}
	})
}

// FuzzParseAnswer: no line the device sends panics the answer parser,
// and an answer it accepts carries a finite number.
func FuzzParseAnswer(f *testing.F) {
	p, err := Load("../../firmware-profiles/vaisala-wxt530-nmea.yaml")
	if err != nil {
		f.Fatal(err)
	}
	r := &p.Serial.Requests[0]
	for _, s := range []string{r.Readback.Example, "0WU,I=10", "0WU,R=00000000&00000000,I=99999999999999999999999999,", "0TX,Unknown cmd error", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		v, ok, err := r.ParseAnswer(line)
		if ok && err == nil && v != v {
			t.Fatalf("%q: NaN", line)
		}
		if !ok && err != nil {
			t.Fatalf("%q: error %v for a line that is not the answer", line, err)
		}
	})
}
