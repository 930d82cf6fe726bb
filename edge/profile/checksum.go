package profile

import (
	"fmt"
	"strconv"
	"strings"
)

// Verify checks a frame's checksum (framing bytes already removed) and
// returns the data the checksum covers, with the checksum suffix cut off.
// Kinds:
//
//	nmea_xor  "data*HH": HH is the XOR of every byte of data, in hex (NMEA 0183 4.1)
//	sum8      "dataHH": HH is the sum of every byte of data mod 256, in hex
//	none, ""  the whole frame is data
func (c Checksum) Verify(frame string) (string, error) {
	switch c.Kind {
	case ChecksumNMEAXOR:
		i := strings.LastIndexByte(frame, '*')
		if i < 0 || len(frame)-i != 3 {
			return "", fmt.Errorf("nmea_xor checksum: expected \"*HH\" at the end of %q", frame)
		}
		data, want := frame[:i], frame[i+1:]
		var x byte
		for j := 0; j < len(data); j++ {
			x ^= data[j]
		}
		return data, compareHex(c.Kind, want, x)
	case ChecksumSum8:
		if len(frame) < 2 {
			return "", fmt.Errorf("sum8 checksum: frame %q too short for two hex digits", frame)
		}
		data, want := frame[:len(frame)-2], frame[len(frame)-2:]
		var s byte
		for j := 0; j < len(data); j++ {
			s += data[j]
		}
		return data, compareHex(c.Kind, want, s)
	}
	return frame, nil
}

// Append returns data with its checksum appended, as the device sends it.
func (c Checksum) Append(data string) string {
	switch c.Kind {
	case ChecksumNMEAXOR:
		var x byte
		for j := 0; j < len(data); j++ {
			x ^= data[j]
		}
		return fmt.Sprintf("%s*%02X", data, x)
	case ChecksumSum8:
		var s byte
		for j := 0; j < len(data); j++ {
			s += data[j]
		}
		return fmt.Sprintf("%s%02X", data, s)
	}
	return data
}

func compareHex(kind, text string, got byte) error {
	v, err := strconv.ParseUint(text, 16, 8)
	if err != nil {
		return fmt.Errorf("%s checksum: %q is not two hex digits", kind, text)
	}
	if byte(v) != got {
		return fmt.Errorf("%s checksum mismatch: frame says %s, data sums to %02X", kind, strings.ToUpper(text), got)
	}
	return nil
}
