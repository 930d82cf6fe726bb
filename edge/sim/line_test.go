package sim

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tarm/serial"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

func col(i int) *int { return &i }

// nmeaProfile is a free-running weather sensor with NMEA checksums.
func nmeaProfile() *profile.Profile {
	re := `^WIMDA,(?P<press>\d+\.\d{3}),B,(?P<temp>-?\d+\.\d),C,(?P<wind>\d{3}),(?P<ok>[YN])$`
	return &profile.Profile{
		Model: "Test Weather", Manufacturer: "Ponte", Source: "test", Category: wire.CategoryWeather,
		Kind: profile.KindSerial,
		Serial: &profile.Serial{
			Framing:  profile.Framing{Start: "$", End: "\r\n"},
			Mode:     profile.ModeFreeRunning,
			Checksum: profile.Checksum{Kind: profile.ChecksumNMEAXOR},
			Records: []profile.Record{{
				Name: "mda", Regex: re, Re: regexp.MustCompile(re),
				Example: "WIMDA,1.013,B,21.5,C,045,Y*0A",
				Fields: []profile.Field{
					{Name: "pressure", Group: "press", Type: profile.TypeFloat, Unit: "hPa", Scaling: profile.Scaling{Scale: 1000}},
					{Name: "temperature", Group: "temp", Type: profile.TypeFloat, Unit: "°C"},
					{Name: "wind_speed", Group: "wind", Type: profile.TypeInt, Unit: "km/h", Sim: &profile.Sim{Pattern: "daily", Min: 0, Max: 40, Peak: 14}},
					{Name: "sensor_ok", Group: "ok", Type: profile.TypeBool, Sim: &profile.Sim{Pattern: "toggle", Max: 1}},
				},
			}},
		},
	}
}

// counterProfile is a request/response traffic counter with STX/ETX
// framing, delimited columns and a sum8 checksum.
func counterProfile() *profile.Profile {
	return &profile.Profile{
		Model: "Test Counter", Manufacturer: "Ponte", Source: "test", Category: wire.CategoryTraffic,
		Kind: profile.KindSerial,
		Serial: &profile.Serial{
			Framing:  profile.Framing{Start: "\x02", End: "\x03"},
			Mode:     profile.ModeRequestResponse,
			Request:  &profile.Request{Command: "D?\r"},
			Checksum: profile.Checksum{Kind: profile.ChecksumSum8},
			Records: []profile.Record{
				{Name: "lane1", Delimiter: ";", Example: "L1;000123;045.5;12;EE",
					Fields: []profile.Field{
						{Name: "lane1_count", Column: col(1), Type: profile.TypeInt},
						{Name: "lane1_speed", Column: col(2), Type: profile.TypeFloat, Unit: "km/h"},
						{Name: "lane1_occupancy", Column: col(3), Type: profile.TypeInt, Unit: "%"},
					}},
				{Name: "lane2", Delimiter: ";", Example: "L2;000077;051.0;08;F4",
					Fields: []profile.Field{
						{Name: "lane2_count", Column: col(1), Type: profile.TypeInt},
					}},
			},
		},
	}
}

// verifyChecksum checks a frame body the way a receiver would.
func verifyChecksum(t *testing.T, kind, body string) {
	t.Helper()
	switch kind {
	case profile.ChecksumNMEAXOR:
		star := strings.LastIndexByte(body, '*')
		if star < 0 {
			t.Fatalf("%q: no *HH", body)
		}
		var x byte
		for _, c := range []byte(body[:star]) {
			x ^= c
		}
		if got := body[star+1:]; got != fmt.Sprintf("%02X", x) {
			t.Errorf("%q: checksum %s, want %02X", body, got, x)
		}
	case profile.ChecksumSum8:
		var s byte
		for _, c := range []byte(body[:len(body)-2]) {
			s += c
		}
		if got := body[len(body)-2:]; got != fmt.Sprintf("%02X", s) {
			t.Errorf("%q: checksum %s, want %02X", body, got, s)
		}
	}
}

func TestLineFrameNMEA(t *testing.T) {
	p := nmeaProfile()
	d, err := NewLineDevice(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	re := p.Serial.Records[0].Re
	temps := map[string]bool{}
	for h := 0; h < 24; h++ {
		frame := string(d.Frame(0, day.Add(time.Duration(h)*time.Hour)))
		if !strings.HasPrefix(frame, "$") || !strings.HasSuffix(frame, "\r\n") {
			t.Fatalf("frame %q lacks the framing", frame)
		}
		body := strings.TrimSuffix(frame[1:], "\r\n")
		m := re.FindStringSubmatch(body[:len(body)-3])
		if m == nil {
			t.Fatalf("%02d:00 frame %q does not match %s", h, body, re)
		}
		verifyChecksum(t, profile.ChecksumNMEAXOR, body)
		press, _ := strconv.ParseFloat(m[re.SubexpIndex("press")], 64)
		if hpa := press * 1000; hpa < 1000 || hpa > 1030 {
			t.Errorf("%02d:00 pressure %g hPa implausible", h, hpa)
		}
		temps[m[re.SubexpIndex("temp")]] = true
	}
	if len(temps) < 5 {
		t.Errorf("temperature took only %d values over a day: %v", len(temps), temps)
	}
	if d.Frame(1, day) != nil || d.Frame(-1, day) != nil {
		t.Error("out-of-range record gave a frame")
	}
}

func TestLineFrameDelimitedSum8(t *testing.T) {
	p := counterProfile()
	d, err := NewLineDevice(p, 9)
	if err != nil {
		t.Fatal(err)
	}
	var last int
	for h := 0; h < 24; h++ {
		frame := string(d.Frame(0, day.Add(time.Duration(h)*time.Hour)))
		if frame[0] != 2 || frame[len(frame)-1] != 3 {
			t.Fatalf("frame %q lacks STX/ETX", frame)
		}
		body := frame[1 : len(frame)-1]
		verifyChecksum(t, profile.ChecksumSum8, body)
		cols := strings.Split(body[:len(body)-2], ";")
		if len(cols) != 5 || cols[0] != "L1" || len(cols[1]) != 6 || len(cols[2]) != 5 || !strings.Contains(cols[2], ".") || cols[4] != "" {
			t.Fatalf("frame %q does not look like the example L1;000123;045.5;12;HH", body)
		}
		n, err := strconv.Atoi(cols[1])
		if grew := (n - last + 1000000) % 1000000; err != nil || (h > 0 && (grew == 0 || grew > 450)) {
			t.Errorf("%02d:00 count %q after %d: want growth of 1..450 an hour (modulo 10^6)", h, cols[1], last)
		}
		last = n
	}
}

func TestTextFormat(t *testing.T) {
	tests := []struct {
		example string
		v       float64
		want    string
	}{
		{"045.5", 7.25, "007.2"},
		{"21.5", -3.14, "0.0"},
		{"-21.5", -3.14, "-3.1"},
		{"+12", 3, "+3"},
		{"+05", 3, "+03"},
		{"000123", 4745657, "745657"}, // a fixed-width counter wraps
		{"  12", 5, "   5"},
		{"0.50", 1.234, "1.23"},
		{"7", 123, "123"},
	}
	for _, tc := range tests {
		t.Run(tc.example, func(t *testing.T) {
			if got := parseTextFormat(tc.example).number(tc.v); got != tc.want {
				t.Errorf("%g like %q = %q, want %q", tc.v, tc.example, got, tc.want)
			}
		})
	}
}

func openPty(t *testing.T, dev string) *serial.Port {
	t.Helper()
	port, err := serial.OpenPort(&serial.Config{Name: dev, Baud: 9600, ReadTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("open %s: %v", dev, err)
	}
	t.Cleanup(func() { port.Close() })
	return port
}

func serveLine(t *testing.T, d *LineDevice, interval time.Duration) *serial.Port {
	t.Helper()
	a, b := testenv.PtyPair(t)
	dev := openPty(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, dev, interval) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return openPty(t, b)
}

func TestLineFreeRunningOverPty(t *testing.T) {
	p := nmeaProfile()
	d, err := NewLineDevice(p, 3)
	if err != nil {
		t.Fatal(err)
	}
	port := serveLine(t, d, 20*time.Millisecond)
	sc := bufio.NewScanner(readerFunc(port.Read))
	re := p.Serial.Records[0].Re
	good := 0
	for good < 3 && sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSuffix(sc.Text(), "\r"), "$")
		if line == "" {
			continue
		}
		if len(line) < 3 || !re.MatchString(line[:len(line)-3]) {
			t.Fatalf("line %q does not match the record", line)
		}
		verifyChecksum(t, profile.ChecksumNMEAXOR, line)
		good++
	}
	if good < 3 {
		t.Fatalf("read %d frames, want 3 (%v)", good, sc.Err())
	}

	d.SetFault(FaultGarbage)
	bad := 0
	for i := 0; i < 40 && bad == 0 && sc.Scan(); i++ {
		line := strings.TrimPrefix(strings.TrimSuffix(sc.Text(), "\r"), "$")
		if _, err := (profile.Checksum{Kind: profile.ChecksumNMEAXOR}).Verify(line); err != nil || !strings.HasPrefix(sc.Text(), "$") {
			bad++
		}
	}
	if bad == 0 {
		t.Error("garbage fault: every line still parsed")
	}

	d.SetFault(FaultTimeout)
	time.Sleep(100 * time.Millisecond)
	drain(port)
	buf := make([]byte, 64)
	if n, _ := port.Read(buf); n != 0 {
		t.Errorf("timeout fault: device still talks: %q", buf[:n])
	}
}

// readerFunc adapts a tarm port, whose read timeout reports io.EOF, to a
// reader that keeps waiting.
type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) {
	for i := 0; i < 50; i++ {
		if n, err := f(b); n > 0 || (err != nil && err.Error() != "EOF") {
			return n, err
		}
	}
	return 0, fmt.Errorf("nothing to read for 10s")
}

func drain(port *serial.Port) {
	buf := make([]byte, 512)
	for {
		if n, _ := port.Read(buf); n == 0 {
			return
		}
	}
}

func TestLineRequestResponseOverPty(t *testing.T) {
	p := counterProfile()
	d, err := NewLineDevice(p, 4)
	if err != nil {
		t.Fatal(err)
	}
	port := serveLine(t, d, time.Second)
	drain(port)
	for i := 0; i < 2; i++ {
		// The command may arrive in pieces.
		port.Write([]byte("D"))
		time.Sleep(10 * time.Millisecond)
		port.Write([]byte("?\r"))
		var got []byte
		buf := make([]byte, 256)
		for bytes.Count(got, []byte{3}) < 2 {
			n, err := readerFunc(port.Read).Read(buf)
			if err != nil {
				t.Fatalf("after %q: %v", got, err)
			}
			got = append(got, buf[:n]...)
		}
		frames := bytes.Split(bytes.TrimSuffix(got, []byte{3}), []byte{3})
		for j, f := range frames {
			if len(f) < 3 || f[0] != 2 {
				t.Fatalf("frame %q lacks STX", f)
			}
			body := string(f[1:])
			if !strings.HasPrefix(body, fmt.Sprintf("L%d;", j+1)) {
				t.Errorf("frame %d = %q, want lane %d", j, body, j+1)
			}
			verifyChecksum(t, profile.ChecksumSum8, body)
		}
	}
}

// FuzzTextFormat formats values like arbitrary example texts: nothing may
// panic, and a numeric example gives numeric text.
func FuzzTextFormat(f *testing.F) {
	for _, s := range []string{"045.5", "-3.1", "+05", "  12", "000123", "", "-", "+.", "0x1"} {
		f.Add(s, 12.5)
	}
	f.Fuzz(func(t *testing.T, example string, v float64) {
		out := parseTextFormat(example).number(v)
		if _, err := strconv.ParseFloat(strings.TrimSpace(example), 64); err == nil {
			if _, err := strconv.ParseFloat(strings.TrimSpace(out), 64); err != nil {
				t.Errorf("%g like %q gave %q", v, example, out)
			}
		}
	})
}
