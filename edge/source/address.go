package source

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// SerialLine is a serial port and its line settings.
type SerialLine struct {
	Path     string // e.g. /dev/ttyUSB0
	Baud     int    // default 9600
	DataBits int    // default 8
	Parity   string // "N", "E" or "O"; default "N"
	StopBits int    // 1 or 2; default 1
}

// String formats the line as "path 9600 8N1".
func (l SerialLine) String() string {
	return fmt.Sprintf("%s %d %d%s%d", l.Path, l.Baud, l.DataBits, l.Parity, l.StopBits)
}

// ParseSerialURL parses "rtu:///dev/ttyUSB0?baud=9600&parity=E" or
// "serial:///dev/ttyUSB1?baud=4800&data_bits=7&stop_bits=2". Query values
// left out take the defaults in def (zero fields of def: 9600 8N1).
func ParseSerialURL(raw string, def SerialLine) (SerialLine, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return SerialLine{}, fmt.Errorf("serial address %q: %w", raw, err)
	}
	if u.Scheme != "rtu" && u.Scheme != "serial" {
		return SerialLine{}, fmt.Errorf("serial address %q: scheme %q (expected rtu:// or serial://)", raw, u.Scheme)
	}
	if u.Host != "" {
		return SerialLine{}, fmt.Errorf("serial address %q: expected an absolute device path after %s:// (e.g. %s:///dev/ttyUSB0), got host %q", raw, u.Scheme, u.Scheme, u.Host)
	}
	l := def
	l.Path = u.Path
	if l.Path == "" {
		return SerialLine{}, fmt.Errorf("serial address %q: no device path", raw)
	}
	if l.Baud == 0 {
		l.Baud = 9600
	}
	if l.DataBits == 0 {
		l.DataBits = 8
	}
	if l.Parity == "" {
		l.Parity = "N"
	}
	if l.StopBits == 0 {
		l.StopBits = 1
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "baud", "data_bits", "parity", "stop_bits":
		default:
			return SerialLine{}, fmt.Errorf("serial address %q: unknown parameter %q (expected baud, data_bits, parity, stop_bits)", raw, k)
		}
	}
	ints := []struct {
		key string
		dst *int
		ok  func(int) bool
		exp string
	}{
		{"baud", &l.Baud, func(v int) bool { return v >= 50 && v <= 4000000 }, "a baud rate such as 9600"},
		{"data_bits", &l.DataBits, func(v int) bool { return v >= 5 && v <= 8 }, "5 to 8"},
		{"stop_bits", &l.StopBits, func(v int) bool { return v == 1 || v == 2 }, "1 or 2"},
	}
	for _, f := range ints {
		s := q.Get(f.key)
		if s == "" {
			continue
		}
		v, err := strconv.Atoi(s)
		if err != nil || !f.ok(v) {
			return SerialLine{}, fmt.Errorf("serial address %q: %s=%q (expected %s)", raw, f.key, s, f.exp)
		}
		*f.dst = v
	}
	if p := q.Get("parity"); p != "" {
		l.Parity = strings.ToUpper(p)
	}
	if l.Parity != "N" && l.Parity != "E" && l.Parity != "O" {
		return SerialLine{}, fmt.Errorf("serial address %q: parity=%q (expected N, E or O)", raw, l.Parity)
	}
	return l, nil
}
