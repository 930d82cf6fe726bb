package profile

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrChecksum marks a frame whose checksum is missing or wrong.
var ErrChecksum = errors.New("checksum mismatch")

// VerifyBytes checks a frame's checksum (framing bytes already removed) and
// returns the data the checksum covers: a subslice of frame with the
// checksum suffix cut off. Kinds:
//
//	nmea_xor  "$data*HH" or "data*HH": HH (hex, either case) is the XOR of
//	          the bytes between a leading '$' or '!' (or the frame start) and '*'
//	          (NMEA 0183, 4.1); the leading '$' stays in the data, so a regex may
//	          anchor on it when framing is by terminator
//	sum8      "dataHH": HH is the sum of every byte of data mod 256
//	none, ""  the whole frame is data
//
// Errors for a bad checksum wrap ErrChecksum; the serial source calls this
// on every frame, so it does not allocate on success.
func (c Checksum) VerifyBytes(frame []byte) ([]byte, error) {
	switch c.Kind {
	case "", ChecksumNone:
		return frame, nil
	case ChecksumNMEAXOR:
		star := bytes.LastIndexByte(frame, '*')
		if star < 0 || len(frame)-star != 3 {
			return nil, fmt.Errorf("nmea_xor: no \"*HH\" at the end of the frame: %w", ErrChecksum)
		}
		want, ok := hexByte(frame[star+1], frame[star+2])
		if !ok {
			return nil, fmt.Errorf("nmea_xor: %q is not two hex digits: %w", frame[star+1:], ErrChecksum)
		}
		if got := nmeaXOR(frame[:star]); got != want {
			return nil, fmt.Errorf("nmea_xor: frame says %02X, data gives %02X: %w", want, got, ErrChecksum)
		}
		return frame[:star], nil
	case ChecksumSum8:
		n := len(frame)
		if n < 2 {
			return nil, fmt.Errorf("sum8: frame too short for two hex digits: %w", ErrChecksum)
		}
		want, ok := hexByte(frame[n-2], frame[n-1])
		if !ok {
			return nil, fmt.Errorf("sum8: %q is not two hex digits: %w", frame[n-2:], ErrChecksum)
		}
		if got := sum8(frame[:n-2]); got != want {
			return nil, fmt.Errorf("sum8: frame says %02X, data gives %02X: %w", want, got, ErrChecksum)
		}
		return frame[:n-2], nil
	}
	return nil, fmt.Errorf("unknown checksum kind %q (expected none, nmea_xor or sum8)", c.Kind)
}

// Verify is VerifyBytes for a string frame.
func (c Checksum) Verify(frame string) (string, error) {
	data, err := c.VerifyBytes([]byte(frame))
	return string(data), err
}

// Append returns data with its checksum appended, as the device sends it.
func (c Checksum) Append(data string) string {
	switch c.Kind {
	case ChecksumNMEAXOR:
		return fmt.Sprintf("%s*%02X", data, nmeaXOR([]byte(data)))
	case ChecksumSum8:
		return fmt.Sprintf("%s%02X", data, sum8([]byte(data)))
	}
	return data
}

func nmeaXOR(data []byte) byte {
	if len(data) > 0 && (data[0] == '$' || data[0] == '!') {
		data = data[1:]
	}
	var x byte
	for _, c := range data {
		x ^= c
	}
	return x
}

func sum8(data []byte) byte {
	var s byte
	for _, c := range data {
		s += c
	}
	return s
}

func hexByte(hi, lo byte) (byte, bool) {
	h, ok1 := hexDigit(hi)
	l, ok2 := hexDigit(lo)
	return h<<4 | l, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
