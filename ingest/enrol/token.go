package enrol

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// tokenPrefix starts every enrolment token (a version, and what it is
// when found in a log or a paste).
const tokenPrefix = "pte1"

// newToken makes a token: its ID (public, for lists and logs), the token
// as given to the technician, and the hash the registry keeps.
func newToken() (id, token, hash string) {
	idb := make([]byte, 6)
	sec := make([]byte, 32)
	rand.Read(idb)
	rand.Read(sec)
	id = hex.EncodeToString(idb)
	s := base64.RawURLEncoding.EncodeToString(sec)
	return id, tokenPrefix + "." + id + "." + s, hashSecret(s)
}

// parseToken splits a token into its ID and secret.
func parseToken(tok string) (id, secret string, ok bool) {
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 || parts[0] != tokenPrefix || len(parts[1]) != 12 || len(parts[2]) < 32 || len(parts[2]) > 64 {
		return "", "", false
	}
	if _, err := hex.DecodeString(parts[1]); err != nil {
		return "", "", false
	}
	return parts[1], parts[2], true
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// secretMatches compares a secret with a stored hash in constant time.
func secretMatches(secret, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(hash)) == 1
}

// newPassword makes a gateway's uplink password: 32 random bytes.
func newPassword() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
