package source

import (
	"strings"
	"testing"
)

func TestParseSerialURL(t *testing.T) {
	cases := []struct {
		in      string
		want    SerialLine
		wantErr string
	}{
		{in: "rtu:///dev/ttyUSB0", want: SerialLine{"/dev/ttyUSB0", 9600, 8, "N", 1}},
		{in: "rtu:///dev/ttyUSB0?baud=19200&parity=e", want: SerialLine{"/dev/ttyUSB0", 19200, 8, "E", 1}},
		{in: "serial:///dev/pts/3?baud=4800&data_bits=7&stop_bits=2&parity=O", want: SerialLine{"/dev/pts/3", 4800, 7, "O", 2}},
		{in: "tcp://1.2.3.4:502", wantErr: "expected rtu:// or serial://"},
		{in: "rtu://dev/ttyUSB0", wantErr: "expected an absolute device path"},
		{in: "rtu:///dev/ttyUSB0?baud=fast", wantErr: `baud="fast"`},
		{in: "rtu:///dev/ttyUSB0?parity=X", wantErr: "expected N, E or O"},
		{in: "rtu:///dev/ttyUSB0?speed=9600", wantErr: `unknown parameter "speed"`},
		{in: "rtu:///dev/ttyUSB0?stop_bits=3", wantErr: "1 or 2"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseSerialURL(c.in, SerialLine{})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}
