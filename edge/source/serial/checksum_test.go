package serial

import (
	"errors"
	"testing"

	"github.com/ponte-city/ponte/internal/profile"
)

func TestVerifyChecksum(t *testing.T) {
	cases := []struct {
		name, kind, frame, data string
		bad                     bool
	}{
		{name: "none", kind: profile.ChecksumNone, frame: "A,1*00", data: "A,1*00"},
		{name: "empty kind", kind: "", frame: "A", data: "A"},
		{name: "nmea with $", kind: profile.ChecksumNMEAXOR, frame: "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47", data: "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"},
		{name: "nmea without $ (start/end framing)", kind: profile.ChecksumNMEAXOR, frame: "WIMWV,284,R,3.4,M,A*37", data: "WIMWV,284,R,3.4,M,A"},
		{name: "nmea lower-case hex", kind: profile.ChecksumNMEAXOR, frame: "$WIMDA,29.9139,I,1.0130,B,14.6,C,,,71.3,,9.4,C,284.0,T,,M,6.6,N,3.4,M*7f", data: "$WIMDA,29.9139,I,1.0130,B,14.6,C,,,71.3,,9.4,C,284.0,T,,M,6.6,N,3.4,M"},
		{name: "nmea AIS !", kind: profile.ChecksumNMEAXOR, frame: "!A*41", data: "!A"},
		{name: "nmea mismatch", kind: profile.ChecksumNMEAXOR, frame: "$WIMWV,284,R,3.4,M,A*38", bad: true},
		{name: "nmea missing", kind: profile.ChecksumNMEAXOR, frame: "$WIMWV,284,R,3.4,M,A", bad: true},
		{name: "nmea one digit", kind: profile.ChecksumNMEAXOR, frame: "$A*4", bad: true},
		{name: "nmea not hex", kind: profile.ChecksumNMEAXOR, frame: "$A*4G", bad: true},
		{name: "nmea empty data", kind: profile.ChecksumNMEAXOR, frame: "*00", data: ""},
		{name: "sum8", kind: profile.ChecksumSum8, frame: "I,060,1,17,52.4,11.3,0C", data: "I,060,1,17,52.4,11.3,"},
		{name: "sum8 lower-case", kind: profile.ChecksumSum8, frame: "zzf4", data: "zz"},
		{name: "sum8 wraps mod 256", kind: profile.ChecksumSum8, frame: "zzz6E", data: "zzz"},
		{name: "sum8 mismatch", kind: profile.ChecksumSum8, frame: "I,060,1,17,52.4,11.3,0D", bad: true},
		{name: "sum8 too short", kind: profile.ChecksumSum8, frame: "A", bad: true},
		{name: "sum8 not hex", kind: profile.ChecksumSum8, frame: "ABxx", bad: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := verifyChecksum(c.kind, []byte(c.frame))
			if c.bad {
				if !errors.Is(err, ErrChecksum) {
					t.Fatalf("error %v, want ErrChecksum", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != c.data {
				t.Errorf("data %q, want %q", data, c.data)
			}
		})
	}
	if _, err := verifyChecksum("crc16", []byte("A")); err == nil || errors.Is(err, ErrChecksum) {
		t.Errorf("unknown kind: error %v, want a configuration error", err)
	}
}
