// Package secrettest helps tests that load the shipped example configs,
// whose placeholder secrets the loaders refuse.
package secrettest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ponte-city/ponte/internal/secret"
)

// Random returns a random secret of 32 hex characters.
func Random(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// ReplacePlaceholders returns data with every placeholder secret of the
// shipped examples replaced by a fresh random one of the same kind (a
// bcrypt hash of cost secret.MinBcryptCost for a hash).
func ReplacePlaceholders(t testing.TB, data []byte) []byte {
	t.Helper()
	for _, p := range secret.Placeholders() {
		repl := Random(t)
		if strings.HasPrefix(p, "$2") {
			h, err := bcrypt.GenerateFromPassword([]byte(repl), secret.MinBcryptCost)
			if err != nil {
				t.Fatal(err)
			}
			repl = string(h)
		}
		data = bytes.ReplaceAll(data, []byte(p), []byte(repl))
	}
	return data
}
