package influx

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/influxschema"
	"github.com/ponte-city/ponte/wire"
)

// at is a fixed acquisition time with nanoseconds.
var at = time.Unix(1_700_000_000, 123_456_789)

func TestLine(t *testing.T) {
	energy := SeriesFor("ponte", "gw-1", "cab-7", "Firenze", "energy")
	tests := []struct {
		name   string
		series Series
		r      wire.Reading
		want   string
	}{
		{"float", energy, wire.Reading{Device: "cab-7", Point: "voltage", Value: wire.Float(231.5), Time: at},
			"energy,area=Firenze,device=cab-7,gateway=gw-1,type=energy voltage=231.5 1700000000123456789\n"},
		{"float integral", energy, wire.Reading{Device: "cab-7", Point: "voltage", Value: wire.Float(230), Time: at},
			"energy,area=Firenze,device=cab-7,gateway=gw-1,type=energy voltage=230 1700000000123456789\n"},
		{"float tiny and huge", energy, wire.Reading{Device: "cab-7", Point: "x", Value: wire.Float(1e-7), Time: at},
			"energy,area=Firenze,device=cab-7,gateway=gw-1,type=energy x=1e-07 1700000000123456789\n"},
		{"int full range", energy, wire.Reading{Device: "cab-7", Point: "energy_wh", Value: wire.Int(math.MaxInt64), Time: at},
			"energy,area=Firenze,device=cab-7,gateway=gw-1,type=energy energy_wh=9223372036854775807i 1700000000123456789\n"},
		{"bool", energy, wire.Reading{Device: "cab-7", Point: "door_open", Value: wire.Bool(true), Time: at},
			"energy,area=Firenze,device=cab-7,gateway=gw-1,type=energy door_open=true 1700000000123456789\n"},
		{"string escaped", energy, wire.Reading{Device: "cab-7", Point: "msg", Value: wire.String(`say "hi" \o/`), Time: at},
			`energy,area=Firenze,device=cab-7,gateway=gw-1,type=energy msg="say \"hi\" \\o/" 1700000000123456789` + "\n"},
		{"bad quality", energy, wire.Reading{Device: "cab-7", Point: "voltage", Value: wire.Float(0), Time: at, Quality: wire.QualityBadComm, Reason: "timeout"},
			`energy,area=Firenze,device=cab-7,gateway=gw-1,type=energy voltage_quality="bad_comm: timeout" 1700000000123456789` + "\n"},
		{"bad quality without reason", energy, wire.Reading{Device: "cab-7", Point: "voltage", Time: at, Quality: wire.QualityBadRange},
			`energy,area=Firenze,device=cab-7,gateway=gw-1,type=energy voltage_quality="bad_range" 1700000000123456789` + "\n"},
		{"unknown type and area", SeriesFor("ponte", "gw-1", "d", "", ""), wire.Reading{Device: "d", Point: "p", Value: wire.Int(-3), Time: at},
			"ponte,device=d,gateway=gw-1 p=-3i 1700000000123456789\n"},
		{"escapes", SeriesFor("ponte", "gw-1", "dev 1,a=b", "Bagno a Ripoli", "my type"), wire.Reading{Device: "dev 1,a=b", Point: "p q=r,s", Value: wire.Float(-0.5), Time: at},
			`my\ type,area=Bagno\ a\ Ripoli,device=dev\ 1\,a\=b,gateway=gw-1,type=my\ type p\ q\=r\,s=-0.5 1700000000123456789` + "\n"},
		{"measurement keeps equals", SeriesFor("a=b", "gw-1", "d", "", ""), wire.Reading{Device: "d", Point: "p", Value: wire.Bool(false), Time: at},
			"a=b,device=d,gateway=gw-1 p=false 1700000000123456789\n"},
		{"backslash in the middle", SeriesFor("ponte", "gw-1", `C:\x`, "", ""), wire.Reading{Device: `C:\x`, Point: "p", Value: wire.Float(1), Time: at},
			`ponte,device=C:\x,gateway=gw-1 p=1 1700000000123456789` + "\n"},
		{"before 1970", energy, wire.Reading{Device: "cab-7", Point: "p", Value: wire.Float(1), Time: time.Unix(-1, 0)},
			"energy,area=Firenze,device=cab-7,gateway=gw-1,type=energy p=1 -1000000000\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := AppendSeries([]byte("keep"), tt.series)
			if why != "" {
				t.Fatalf("series: %s", why)
			}
			got, why = AppendFields(got, &tt.r)
			if why != "" {
				t.Fatalf("fields: %s", why)
			}
			if string(got) != "keep"+tt.want {
				t.Errorf("got  %q\nwant %q", got, "keep"+tt.want)
			}
			// The same reading again is the same line: a replay overwrites.
			again, _ := AppendSeries(nil, tt.series)
			again, _ = AppendFields(again, &tt.r)
			if string(again) != tt.want {
				t.Errorf("second encoding differs: %q", again)
			}
		})
	}
}

func TestLineRejects(t *testing.T) {
	ok := wire.Reading{Device: "d", Point: "p", Value: wire.Float(1), Time: at}
	tests := []struct {
		name   string
		series Series
		mutate func(r *wire.Reading)
		want   string // a fragment of the reason
	}{
		{"NaN", SeriesFor("m", "g", "d", "", ""), func(r *wire.Reading) { r.Value = wire.Float(math.NaN()) }, "not a number"},
		{"Inf", SeriesFor("m", "g", "d", "", ""), func(r *wire.Reading) { r.Value = wire.Float(math.Inf(-1)) }, "not a number"},
		{"unknown kind", SeriesFor("m", "g", "d", "", ""), func(r *wire.Reading) { r.Value.Kind = 9 }, "kind"},
		{"empty point", SeriesFor("m", "g", "d", "", ""), func(r *wire.Reading) { r.Point = "" }, "point name is empty"},
		{"point time", SeriesFor("m", "g", "d", "", ""), func(r *wire.Reading) { r.Point = "time" }, `"time" is reserved`},
		{"point newline", SeriesFor("m", "g", "d", "", ""), func(r *wire.Reading) { r.Point = "a\nb" }, "control character"},
		{"point trailing backslash", SeriesFor("m", "g", "d", "", ""), func(r *wire.Reading) { r.Point = `a\` }, "ends with a backslash"},
		{"point backslash comma", SeriesFor("m", "g", "d", "", ""), func(r *wire.Reading) { r.Point = `a\,b` }, "backslash before ','"},
		{"no time", SeriesFor("m", "g", "d", "", ""), func(r *wire.Reading) { r.Time = time.Time{} }, "time is missing"},
		{"time too late", SeriesFor("m", "g", "d", "", ""), func(r *wire.Reading) { r.Time = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }, "outside the range"},
		{"empty device", SeriesFor("m", "g", "", "", ""), nil, "device is empty"},
		{"empty gateway", SeriesFor("m", "", "d", "", ""), nil, "gateway is empty"},
		{"device tab", SeriesFor("m", "g", "d\tx", "", ""), nil, "control character"},
		{"area invalid utf-8", SeriesFor("m", "g", "d", "\xff", ""), nil, "UTF-8"},
		{"measurement comment", SeriesFor("#m", "g", "d", "", ""), nil, "comment"},
		{"type quote after backslash", SeriesFor("m", "g", "d", "", `x\"`), nil, "backslash before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			if tt.mutate != nil {
				tt.mutate(&r)
			}
			line, why := AppendSeries([]byte("keep"), tt.series)
			if why == "" {
				line, why = AppendFields(line, &r)
			}
			if why == "" {
				t.Fatalf("accepted: %q", line)
			}
			if !strings.Contains(why, tt.want) {
				t.Errorf("reason %q does not say %q", why, tt.want)
			}
			if string(line) != "keep" && !strings.HasPrefix(string(line), "keep") {
				t.Errorf("dst changed on rejection: %q", line)
			}
		})
	}
}

func TestParseLineOfOwnLines(t *testing.T) {
	tests := []struct {
		series          Series
		r               wire.Reading
		meas, key, kind string
	}{
		{SeriesFor("ponte", "g", "d", "", "energy"), wire.Reading{Device: "d", Point: "v", Value: wire.Float(1), Time: at}, "energy", "v", "float"},
		{SeriesFor("ponte", "g", "d", "", ""), wire.Reading{Device: "d", Point: "n", Value: wire.Int(1), Time: at}, "ponte", "n", "integer"},
		{SeriesFor("ponte", "g", "d", "", "a b,c"), wire.Reading{Device: "d", Point: "x=y z", Value: wire.Bool(true), Time: at}, "a b,c", "x=y z", "boolean"},
		{SeriesFor("ponte", "g", "d e", "f,g", ""), wire.Reading{Device: "d e", Point: "s", Value: wire.String("a b=c"), Time: at}, "ponte", "s", "string"},
		{SeriesFor("ponte", "g", "d", "", ""), wire.Reading{Device: "d", Point: "v", Time: at, Quality: wire.QualityBadComm}, "ponte", "v_quality", "string"},
	}
	for _, tt := range tests {
		t.Run(tt.meas+"/"+tt.key, func(t *testing.T) {
			l, _ := AppendSeries(nil, tt.series)
			l, _ = AppendFields(l, &tt.r)
			m, k, typ, ok := parseLine(l[:len(l)-1])
			if !ok || m != tt.meas || k != tt.key || typ != tt.kind {
				t.Errorf("parseLine(%q) = %q %q %q %v, want %q %q %q", l, m, k, typ, ok, tt.meas, tt.key, tt.kind)
			}
		})
	}
}

// FuzzLine: any reading either encodes to one line ending in a newline
// whose measurement and field key read back as given, or is rejected with
// a reason and leaves dst alone.
func FuzzLine(f *testing.F) {
	f.Add("energy", "cab 1,a=b", "Firenze", "p q=r", "text \"q\" \\", int64(1700000000123456789), uint8(3), 1.5, false)
	f.Add("ponte", `C:\x`, "", `a\b`, "", int64(-5), uint8(1), math.Copysign(0, -1), true)
	f.Add("#m", "d", "a", "time", "\n", int64(0), uint8(0), 1e300, false)
	f.Fuzz(func(t *testing.T, meas, device, area, point, str string, ns int64, kind uint8, fl float64, bad bool) {
		r := wire.Reading{Device: device, Point: point, Time: time.Unix(0, ns)}
		switch kind % 5 {
		case 0:
			r.Value = wire.Float(fl)
		case 1:
			r.Value = wire.Int(ns)
		case 2:
			r.Value = wire.Bool(ns%2 == 0)
		case 3:
			r.Value = wire.String(str)
		default:
			r.Value = wire.Value{Kind: wire.Kind(kind)}
		}
		if bad {
			r.Quality, r.Reason = wire.QualityBadDecode, str
		}
		s := SeriesFor("fallback", "gw-1", device, area, meas)
		key, why := AppendSeries([]byte("x"), s)
		if why != "" {
			if string(key) != "x" {
				t.Fatalf("dst changed on rejection (%s): %q", why, key)
			}
			return
		}
		line, why := AppendFields(key, &r)
		if why != "" {
			if string(line) != string(key) {
				t.Fatalf("dst changed on rejection (%s): %q", why, line)
			}
			return
		}
		line = line[1:]
		if len(line) == 0 || line[len(line)-1] != '\n' {
			t.Fatalf("line does not end in a newline: %q", line)
		}
		m, k, _, ok := parseLine(line[:len(line)-1])
		wantKey := influxschema.ValueField(point)
		if bad {
			wantKey = influxschema.QualityField(point)
		}
		if !ok || m != s.Measurement || k != wantKey {
			t.Fatalf("line %q reads back as %q %q %v, want %q %q", line, m, k, ok, s.Measurement, wantKey)
		}
	})
}
