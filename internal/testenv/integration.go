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
// one of the usual sbin places, the project's tools folder (see ToolsBin)
// or one of dirs. A missing program fails tb with the command that
// installs it.
func Need(tb testing.TB, name, install string, dirs ...string) string {
	tb.Helper()
	Integration(tb, name)
	if p := lookPath(name, dirs...); p != "" {
		return p
	}
	tb.Fatalf("%s is not installed; this integration test needs the real thing (%s; deploy/bootstrap test brings every component)", name, install)
	return ""
}

// lookPath finds name on PATH, in an sbin directory, in ToolsBin or in
// extra, or returns "".
func lookPath(name string, extra ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	dirs := []string{"/usr/sbin", "/sbin", "/usr/local/sbin"}
	if d := ToolsBin(); d != "" {
		dirs = append(dirs, d)
	}
	for _, dir := range append(dirs, extra...) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// ToolsBin is the folder deploy/bootstrap builds tools into (influxd,
// staticcheck): $BOOTSTRAP_TOOLS/bin when that is set (as make sets it),
// else .tools/bin in the module's root, found from the working directory
// up to go.mod, so that a plain `go test` finds them too. It returns ""
// outside the module.
func ToolsBin() string {
	if d := os.Getenv("BOOTSTRAP_TOOLS"); d != "" {
		return filepath.Join(d, "bin")
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".tools", "bin")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
