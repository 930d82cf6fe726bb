package ctl

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/internal/testenv"
)

// TestValidateGoldens runs every testdata/validate/<case>/: its site
// config or profile must fail validation with exactly the stderr lines of
// expected.err (each problem once as file:line: field: problem, then the
// count and what to do next).
func TestValidateGoldens(t *testing.T) {
	testenv.ErrorCases(t, "testdata/validate/*/*.yaml", func(t *testing.T, path string) error {
		code, stdout, stderr := run(t, "validate", path)
		if code != ExitFail {
			t.Errorf("exit %d, want %d (stdout %s)", code, ExitFail, stdout)
		}
		if stderr == "" {
			return nil
		}
		return errors.New(strings.TrimSpace(stderr))
	})
}

// TestValidateShipped: the example site configs with the shipped profiles
// (--profiles after the files), and profiles by path, in one call.
func TestValidateShipped(t *testing.T) {
	sites, _ := filepath.Glob("../../deploy/sites/*.yaml")
	profiles, _ := filepath.Glob(shippedProfiles + "/*.yaml")
	if len(sites) < 2 || len(profiles) < 2 {
		t.Fatalf("found %d sites, %d profiles", len(sites), len(profiles))
	}
	args := append(append(append([]string{"validate"}, sites...), profiles...), "--profiles", shippedProfiles)
	code, stdout, stderr := run(t, args...)
	if code != ExitOK || stderr != "" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, s := range sites {
		if !strings.Contains(stdout, s+": ok (gateway ") {
			t.Errorf("no ok line for %s:\n%s", s, stdout)
		}
	}
	// The Bari junction names four profiles, each listed once.
	if n := strings.Count(stdout, "  profile "); n < 4 {
		t.Errorf("%d profile lines under the sites:\n%s", n, stdout)
	}
	if n := strings.Count(stdout, ": ok ("); n != len(sites)+len(profiles)+strings.Count(stdout, "  profile ") {
		t.Errorf("%d ok lines:\n%s", n, stdout)
	}
	if code, _, _ := run(t, "validate"); code != ExitUsage {
		t.Errorf("no files: exit %d, want usage", code)
	}
}
