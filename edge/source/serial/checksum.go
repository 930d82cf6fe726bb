package serial

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ponte-city/ponte/edge/profile"
)

// ErrChecksum marks a frame whose checksum is missing or wrong.
var ErrChecksum = errors.New("checksum mismatch")

// verifyChecksum checks frame's checksum as kind says and returns the data
// with the checksum suffix cut off (a subslice of frame):
//
//	nmea_xor  "$data*HH" or "data*HH": HH (hex, either case) is the XOR of
//	          the bytes between the leading '$' or '!' (or the frame start) and '*'
//	sum8      "dataHH": HH is the sum of every byte of data mod 256
//	none, ""  the whole frame is data
//
// The leading '$' of an NMEA sentence stays in the data, so a record's
// regex may anchor on it when the framing is by terminator.
func verifyChecksum(kind string, frame []byte) ([]byte, error) {
	switch kind {
	case "", profile.ChecksumNone:
		return frame, nil
	case profile.ChecksumNMEAXOR:
		star := bytes.LastIndexByte(frame, '*')
		if star < 0 || len(frame)-star != 3 {
			return nil, fmt.Errorf("nmea_xor: no \"*HH\" at the end of the frame: %w", ErrChecksum)
		}
		want, ok := hexByte(frame[star+1], frame[star+2])
		if !ok {
			return nil, fmt.Errorf("nmea_xor: %q is not two hex digits: %w", frame[star+1:], ErrChecksum)
		}
		from := 0
		if frame[0] == '$' || frame[0] == '!' {
			from = 1
		}
		var x byte
		for _, c := range frame[from:star] {
			x ^= c
		}
		if x != want {
			return nil, fmt.Errorf("nmea_xor: frame says %02X, data gives %02X: %w", want, x, ErrChecksum)
		}
		return frame[:star], nil
	case profile.ChecksumSum8:
		n := len(frame)
		if n < 2 {
			return nil, fmt.Errorf("sum8: frame too short for two hex digits: %w", ErrChecksum)
		}
		want, ok := hexByte(frame[n-2], frame[n-1])
		if !ok {
			return nil, fmt.Errorf("sum8: %q is not two hex digits: %w", frame[n-2:], ErrChecksum)
		}
		var s byte
		for _, c := range frame[:n-2] {
			s += c
		}
		if s != want {
			return nil, fmt.Errorf("sum8: frame says %02X, data gives %02X: %w", want, s, ErrChecksum)
		}
		return frame[:n-2], nil
	}
	return nil, fmt.Errorf("unknown checksum kind %q (expected none, nmea_xor or sum8)", kind)
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
