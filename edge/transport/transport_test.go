package transport

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/internal/profile"
)

// profileKinds reads every constant of type Kind declared in
// internal/profile, so a kind added there without an entry here fails.
func profileKinds(t *testing.T) []profile.Kind {
	t.Helper()
	files, err := filepath.Glob("../../internal/profile/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []profile.Kind
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Kind" {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok {
						t.Fatalf("%s: a Kind constant that is not a string literal", fset.Position(v.Pos()))
					}
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					kinds = append(kinds, profile.Kind(s))
				}
			}
		}
	}
	if len(kinds) < 3 {
		t.Fatalf("found %d Kind constants in internal/profile (%v), expected modbus, serial and mqtt at least", len(kinds), kinds)
	}
	return kinds
}

func TestEveryKindHasATransport(t *testing.T) {
	kinds := profileKinds(t)
	for _, k := range kinds {
		tr, err := For(k)
		if err != nil {
			t.Errorf("kind %s: %v", k, err)
			continue
		}
		if tr.Kind != k || len(tr.Schemes) == 0 || tr.Expect == "" {
			t.Errorf("kind %s: incomplete entry %+v", k, tr)
		}
		if tr.check == nil || tr.validate == nil || tr.build == nil || tr.probe == nil || tr.points == nil {
			t.Errorf("kind %s: entry lacks a function", k)
		}
	}
	if got := len(All()); got != len(kinds) {
		t.Errorf("%d transports for %d profile kinds", got, len(kinds))
	}
}

func TestUnknownKind(t *testing.T) {
	_, err := For("canbus")
	if err == nil || err.Error() != `profile kind "canbus" has no source` {
		t.Fatalf("For(canbus) = %v", err)
	}
}

// brokerSchemes are the MQTT broker URL schemes; tcp:// is both a Modbus
// TCP address and a plain broker, and the profile's kind decides.
var brokerSchemes = map[string]bool{"tcp": true, "mqtt": true, "ssl": true, "tls": true, "mqtts": true, "ws": true, "wss": true}

func TestSchemesMapToOneKind(t *testing.T) {
	owners := map[string][]profile.Kind{}
	for _, tr := range All() {
		for _, s := range tr.Schemes {
			if s != strings.ToLower(s) {
				t.Errorf("kind %s: scheme %q is not lower case (net/url lowers schemes)", tr.Kind, s)
			}
			owners[s] = append(owners[s], tr.Kind)
		}
	}
	mqtt, err := For(profile.KindMQTT)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range mqtt.Schemes {
		if !brokerSchemes[s] {
			t.Errorf("mqtt scheme %q is not a broker scheme", s)
		}
	}
	for s, kinds := range owners {
		if len(kinds) == 1 {
			continue
		}
		if !brokerSchemes[s] || len(kinds) != 2 {
			t.Errorf("scheme %q belongs to %v: expected one kind, or a broker scheme shared with the mqtt kind", s, kinds)
		}
	}
	if got := owners["tcp"]; len(got) != 2 {
		t.Errorf("tcp:// belongs to %v, expected modbus and mqtt", got)
	}
}

func TestCheckAddress(t *testing.T) {
	tests := []struct {
		kind profile.Kind
		addr string
		port Port
		err  string // "" ok; ErrNoFit's text for a scheme that does not fit
	}{
		{profile.KindModbus, "tcp://10.0.0.5:502", Port{}, ""},
		{profile.KindModbus, "rtu:///dev/ttyUSB0?baud=9600&parity=E", Port{Path: "/dev/ttyUSB0", Shared: true}, ""},
		{profile.KindModbus, "TCP://10.0.0.5:502", Port{}, ""}, // net/url lowers the scheme
		{profile.KindModbus, "tcp://10.0.0.5", Port{}, `"tcp://10.0.0.5": expected tcp://host:port with a port from 1 to 65535`},
		{profile.KindModbus, "tcp://10.0.0.5:70000", Port{}, `"tcp://10.0.0.5:70000": expected tcp://host:port with a port from 1 to 65535`},
		{profile.KindModbus, "rtu://host/dev/ttyUSB0", Port{}, `serial address "rtu://host/dev/ttyUSB0": expected an absolute device path after rtu:// (e.g. rtu:///dev/ttyUSB0), got host "host"`},
		{profile.KindModbus, "serial:///dev/ttyUSB0", Port{}, ErrNoFit.Error()},
		{profile.KindModbus, "mqtt://host:1883", Port{}, ErrNoFit.Error()},
		{profile.KindSerial, "serial:///dev/ttyS1?baud=4800", Port{Path: "/dev/ttyS1"}, ""},
		{profile.KindSerial, "serial:///dev/ttyS1?speed=4800", Port{}, `serial address "serial:///dev/ttyS1?speed=4800": unknown parameter "speed" (expected baud, data_bits, parity, stop_bits)`},
		{profile.KindSerial, "tcp://10.0.0.5:502", Port{}, ErrNoFit.Error()},
		{profile.KindSerial, "rtu:///dev/ttyS1", Port{}, ErrNoFit.Error()},
		{profile.KindMQTT, "mqtt://127.0.0.1:1883", Port{}, ""},
		{profile.KindMQTT, "tcp://127.0.0.1:1883", Port{}, ""},
		{profile.KindMQTT, "mqtts:///no-host", Port{}, `no host in "mqtts:///no-host" (expected e.g. ssl://mqtt.example.org:8883)`},
		{profile.KindMQTT, "rtu:///dev/ttyUSB2", Port{}, ErrNoFit.Error()},
		{profile.KindMQTT, "http://host", Port{}, ErrNoFit.Error()},
		{profile.KindMQTT, "::not a url", Port{}, ErrNoFit.Error()},
		{profile.KindRSMP, "rsmp://10.0.0.7:12111?site=RN+SI0001", Port{}, ""},
		{profile.KindRSMP, "rsmp://10.0.0.7?site=RN+SI0001", Port{}, `"rsmp://10.0.0.7?site=RN+SI0001": expected rsmp://host:port?site=SITE_ID with a port from 1 to 65535 (RSMP has no default port)`},
		{profile.KindRSMP, "rsmp://10.0.0.7:12111", Port{}, `"rsmp://10.0.0.7:12111": missing site=SITE_ID, the site ID the controller announces in its Version message`},
		{profile.KindRSMP, "tcp://10.0.0.7:12111", Port{}, ErrNoFit.Error()},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind)+" "+tc.addr, func(t *testing.T) {
			tr, err := For(tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			port, err := tr.CheckAddress(tc.addr)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tc.err != "" && (err == nil || err.Error() != tc.err):
				t.Fatalf("error %v, want %s", err, tc.err)
			case tc.err == ErrNoFit.Error() && !errors.Is(err, ErrNoFit):
				t.Fatalf("error %v is not ErrNoFit", err)
			}
			if port != tc.port {
				t.Fatalf("port %+v, want %+v", port, tc.port)
			}
		})
	}
}

// TestPoints counts the points of a shipped profile of each kind (Modbus
// points, the fields of every serial record, MQTT fields), as ponte-ctl
// profile validate prints them.
func TestPoints(t *testing.T) {
	tests := map[string]int{
		"eastron-sdm630-v2":    20,
		"vaisala-wxt530-nmea":  14,
		"loop-counter-serial":  3,
		"milesight-ws302-tts":  4,
		"bosch-pls-chirpstack": 3,
		"rsmp-tlc-sxl-1.2":     7, // six statuses, one command
	}
	seen := map[profile.Kind]bool{}
	for name, want := range tests {
		p, err := profile.Load(filepath.Join("../../firmware-profiles", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		tr, err := For(p.Kind)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := tr.Points(p); got != want {
			t.Errorf("%s (%s): %d points, want %d", name, p.Kind, got, want)
		}
		seen[p.Kind] = true
	}
	if len(seen) != len(All()) {
		t.Errorf("the profiles cover kinds %v, expected one of each transport", seen)
	}
}

func TestValidateNoDevices(t *testing.T) {
	for _, tr := range All() {
		if err := tr.Validate(nil); err != nil {
			t.Errorf("%s: Validate(nil) = %v, want nil (nothing to check)", tr.Kind, err)
		}
	}
}

// TestWrongSchemeGetsTheHint: an address in another transport's scheme is
// ErrNoFit (the agent then shows Expect), and Expect shows an address of
// the transport's own.
func TestWrongSchemeGetsTheHint(t *testing.T) {
	for _, tr := range All() {
		own := false
		for _, s := range tr.Schemes {
			own = own || strings.Contains(tr.Expect, s+"://")
		}
		if !own {
			t.Errorf("%s: hint %q shows none of its schemes %v", tr.Kind, tr.Expect, tr.Schemes)
		}
		for _, other := range All() {
			for _, s := range other.Schemes {
				if slices.Contains(tr.Schemes, s) {
					continue
				}
				addr := s + ":///dev/ttyUSB0"
				if _, err := tr.CheckAddress(addr); !errors.Is(err, ErrNoFit) {
					t.Errorf("%s: %s: error %v, want ErrNoFit", tr.Kind, addr, err)
				}
			}
		}
	}
}
