package ctl

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), Env{Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestProfileValidate(t *testing.T) {
	shipped, _ := filepath.Glob("../../firmware-profiles/*.yaml")
	if len(shipped) == 0 {
		t.Fatal("no shipped profiles found")
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("model: M\nmanufacturer: V\nsource: s\ncategory: air\nkind: modbus\nmodbus:\n  points:\n    - {name: no2, table: input, address: 0, type: float23}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("shipped profiles are valid", func(t *testing.T) {
		code, out, errs := run(t, append([]string{"profile", "validate"}, shipped...)...)
		if code != ExitOK {
			t.Fatalf("exit %d, stderr:\n%s", code, errs)
		}
		if n := strings.Count(out, ": ok ("); n != len(shipped) {
			t.Fatalf("%d ok lines for %d files:\n%s", n, len(shipped), out)
		}
	})
	t.Run("a bad profile fails with file line and field", func(t *testing.T) {
		code, _, errs := run(t, "profile", "validate", shipped[0], bad)
		if code != ExitFail {
			t.Fatalf("exit %d, want %d", code, ExitFail)
		}
		want := bad + `:8: modbus.points[0].type: unknown type "float23"`
		if !strings.Contains(errs, want) || !strings.Contains(errs, "1 of 2 profiles have errors") {
			t.Fatalf("stderr does not name the problem:\n%s\nwant %s", errs, want)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		code, _, errs := run(t, "profile", "validate", filepath.Join(dir, "nope.yaml"))
		if code != ExitFail || !strings.Contains(errs, "nope.yaml") {
			t.Fatalf("exit %d, stderr %s", code, errs)
		}
	})
	t.Run("usage", func(t *testing.T) {
		if code, _, _ := run(t, "profile", "validate"); code != ExitUsage {
			t.Fatalf("exit %d, want usage", code)
		}
		if code, _, _ := run(t, "frobnicate"); code != ExitUsage {
			t.Fatalf("exit %d, want usage", code)
		}
	})
}
