package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/internal/testenv"
)

// TestBadProfiles runs every testdata/<case>/: profile.yaml must fail to
// load with exactly the lines of expected.err.
func TestBadProfiles(t *testing.T) {
	testenv.ErrorCases(t, "testdata/*/profile.yaml", func(t *testing.T, path string) error {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Parse("profile.yaml", data)
		return err
	})
}

// TestFirmwareProfiles loads every shipped profile: they must be valid and
// say where their facts come from.
func TestFirmwareProfiles(t *testing.T) {
	profiles, err := LoadDir("../../firmware-profiles")
	if err != nil {
		t.Fatal(err)
	}
	if len(profiles) < 6 {
		t.Fatalf("%d profiles, want at least 6", len(profiles))
	}
	kinds := map[Kind]int{}
	for name, p := range profiles {
		kinds[p.Kind]++
		if p.Representative && !strings.Contains(strings.ToLower(p.Source), "representative") {
			t.Errorf("%s: representative profile must say so in source", name)
		}
	}
	for _, k := range []Kind{KindModbus, KindSerial, KindMQTT, KindRSMP} {
		if kinds[k] == 0 {
			t.Errorf("no %s profile shipped", k)
		}
	}
}

func TestParseFillsCompiledRegexps(t *testing.T) {
	p, err := Load("../../firmware-profiles/vaisala-wxt530-nmea.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Serial.Records {
		if r.Re == nil || r.MatchRe == nil {
			t.Fatalf("record %s: regexps not compiled", r.Name)
		}
	}
	if got := p.Serial.Framing.End; got != "\r\n" {
		t.Fatalf("framing end %q, want CR LF", got)
	}
}

func TestOrder(t *testing.T) {
	cases := []struct {
		in          Order
		norm        Order
		words, byts bool
	}{
		{"ABCD", OrderABCD, false, false},
		{"ABCDEFGH", OrderABCD, false, false},
		{"CDAB", OrderCDAB, true, false},
		{"GHEFCDAB", OrderCDAB, true, false},
		{"BADC", OrderBADC, false, true},
		{"BADCFEHG", OrderBADC, false, true},
		{"DCBA", OrderDCBA, true, true},
		{"HGFEDCBA", OrderDCBA, true, true},
		{"ACBD", "", false, false},
	}
	for _, c := range cases {
		t.Run(string(c.in), func(t *testing.T) {
			if c.in.Normalize() != c.norm || c.in.SwapWords() != c.words || c.in.SwapBytes() != c.byts {
				t.Fatalf("got %q words=%v bytes=%v", c.in.Normalize(), c.in.SwapWords(), c.in.SwapBytes())
			}
		})
	}
}

func TestChecksum(t *testing.T) {
	cases := []struct {
		kind, frame, data, err string
	}{
		{ChecksumNMEAXOR, "WIMWV,284,R,3.4,M,A*37", "WIMWV,284,R,3.4,M,A", ""},
		{ChecksumNMEAXOR, "WIMWV,284,R,3.4,M,A*37"[:20] + "*37", "", "frame says 37, data gives"},
		{ChecksumNMEAXOR, "GPGGA,1", "", `no "*HH"`},
		{ChecksumNMEAXOR, "A*ZZ", "", "not two hex digits"},
		{ChecksumSum8, "I,060,1,17,52.4,11.3,0C", "I,060,1,17,52.4,11.3,", ""},
		{ChecksumSum8, "I,060,1,17,52.4,11.3,0D", "", "frame says 0D, data gives 0C"},
		{ChecksumSum8, "1", "", "too short"},
		{ChecksumNone, "anything*00", "anything*00", ""},
	}
	for _, c := range cases {
		t.Run(c.kind+"/"+c.frame, func(t *testing.T) {
			cs := Checksum{Kind: c.kind}
			data, err := cs.Verify(c.frame)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || data != c.data {
				t.Fatalf("got %q, %v; want %q", data, err, c.data)
			}
			if back := cs.Append(data); back != c.frame {
				t.Fatalf("Append(%q) = %q, want %q", data, back, c.frame)
			}
		})
	}
}

// FuzzParse feeds arbitrary bytes to the profile loader: it must return a
// profile or an error, never panic, and a returned profile must be usable.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../../firmware-profiles/*.yaml")
	cases, _ := filepath.Glob("testdata/*/profile.yaml")
	for _, p := range append(seeds, cases...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		switch p.Kind {
		case KindModbus:
			for i := range p.Modbus.Points {
				_ = p.Modbus.EffectiveOrder(&p.Modbus.Points[i])
			}
			for i := range p.Modbus.Identify {
				// The simulator serves Expected; scan must recognise it.
				if c := &p.Modbus.Identify[i]; !c.Match(c.Expected()) {
					t.Fatalf("identify[%d] (%s) does not match its own expected value %v", i, c.Want(), c.Expected())
				}
			}
		case KindSerial:
			for _, r := range p.Serial.Records {
				if r.Regex != "" && r.Re == nil {
					t.Fatal("regex not compiled")
				}
			}
		case KindMQTT:
			p.MQTT.Defaults()
		case KindRSMP:
			for i := range p.RSMP.Commands {
				if c := &p.RSMP.Commands[i]; len(c.ArgNames()) == 0 || c.Component == "" {
					t.Fatal("a command without arguments or component")
				}
			}
		default:
			t.Fatalf("loaded with kind %q", p.Kind)
		}
	})
}

func TestScalingApply(t *testing.T) {
	cases := []struct {
		s    Scaling
		raw  float64
		want float64
	}{
		{Scaling{}, 0.1 + 0.2, 0.1 + 0.2}, // unscaled values pass through untouched
		{Scaling{Scale: 0.01}, 2340, 23.4},
		{Scaling{Scale: 0.1}, 1013, 101.3},
		{Scaling{Scale: 1000}, 1.013, 1013},
		{Scaling{Scale: 0.1, Offset: -40}, 655, 25.5},
		{Scaling{Scale: 1, Offset: 0.1}, 0.2, 0.3},
		{Scaling{Scale: 0.001}, 123456789012345, 123456789012},
		{Scaling{Scale: -1}, 5, -5},
	}
	for _, c := range cases {
		if got := c.s.Apply(c.raw); got != c.want {
			t.Errorf("%+v.Apply(%v) = %v, want %v", c.s, c.raw, got, c.want)
		}
	}
}
