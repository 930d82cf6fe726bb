package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Integration marks tb as an integration test: one that needs component
// (a program such as "mosquitto", or a description such as "a kill -9 of
// a child process") or runs for many seconds. Under `go test -short` it
// skips the test, saying so; otherwise it returns and the test runs, and
// a program it needs that is missing fails it (see Need): under CI=true a
// skip would hide a missing install step, so nothing but -short skips.
func Integration(tb testing.TB, component string) {
	tb.Helper()
	if testing.Short() {
		tb.Skipf("integration test (needs %s): skipped under -short", component)
	}
}

// Need marks tb as an integration test needing the program name (see
// Integration) and, when it runs, returns the program's path: from PATH,
// one of the usual sbin places or one of dirs. A missing program fails tb
// with the command that installs it.
func Need(tb testing.TB, name, install string, dirs ...string) string {
	tb.Helper()
	Integration(tb, name)
	if p := lookPath(name, dirs...); p != "" {
		return p
	}
	tb.Fatalf("%s is not installed; this integration test needs the real thing (%s)", name, install)
	return ""
}

// lookPath finds name on PATH or in an sbin directory, or returns "".
func lookPath(name string, extra ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range append([]string{"/usr/sbin", "/sbin", "/usr/local/sbin"}, extra...) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}
