package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
)

// WriteFile writes data to path (mode 0644) or fails tb.
func WriteFile(tb testing.TB, path, data string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// Secret returns a fresh random secret of 32 hex digits, for generated
// configs (the loaders refuse short and shipped ones).
func Secret(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}
