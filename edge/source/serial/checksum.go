package serial

import "github.com/ponte-city/ponte/internal/profile"

// ErrChecksum marks a frame whose checksum is missing or wrong.
var ErrChecksum = profile.ErrChecksum

// verifyChecksum checks frame's checksum as kind says and returns the data
// with the checksum suffix cut off (a subslice of frame); the rules are
// profile.Checksum's, shared with profile validation and the simulator.
func verifyChecksum(kind string, frame []byte) ([]byte, error) {
	return profile.Checksum{Kind: kind}.VerifyBytes(frame)
}
