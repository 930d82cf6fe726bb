package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/internal/testenv"
)

func TestFromBuild(t *testing.T) {
	rev := "0123456789abcdef0123456789abcdef01234567"
	vcs := func(modified string) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}}
	}
	for _, tc := range []struct {
		name, linked string
		bi           *debug.BuildInfo
		want         string
	}{
		{"ldflags win", "1.4.0", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0"}}, "1.4.0"},
		{"module version", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0"}}, "v1.3.0"},
		{"vcs revision", "", vcs("false"), "dev-0123456789ab"},
		{"dirty tree", "", vcs("true"), "dev-0123456789ab-dirty"},
		{"devel without vcs", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{"no build info", "", nil, "dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fromBuild(tc.linked, tc.bi); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAsked(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--version"}, true},
		{[]string{"-version"}, true},
		{[]string{"--config", "x.yaml", "--version"}, true},
		{[]string{"--config", "x.yaml"}, false},
		{[]string{"--", "--version"}, false},
		{nil, false},
	} {
		if got := Asked(tc.args); got != tc.want {
			t.Errorf("Asked(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

// TestBinaries builds every binary under cmd/ with a version set by
// -ldflags, as packaging does, and runs each with --version: each prints
// its own name and that version, and exits 0.
func TestBinaries(t *testing.T) {
	testenv.Integration(t, "a go build of every binary")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mains, err := filepath.Glob(filepath.Join(root, "cmd", "*", "main.go"))
	if err != nil || len(mains) < 5 {
		t.Fatalf("found %d binaries under cmd/: %v", len(mains), err)
	}
	bin := t.TempDir()
	const v = "9.8.7-test"
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator),
		"-ldflags", "-X github.com/ponte-city/ponte/internal/version.version="+v, "./cmd/...")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(bin, name), "--version")
			cmd.Env = append(os.Environ(), "DEMO_ROUNDS=")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s --version: %v\n%s", name, err, out)
			}
			if want := name + " " + v + " ("; !strings.HasPrefix(string(out), want) || strings.Count(string(out), "\n") != 1 {
				t.Fatalf("%s --version printed %q, want one line starting %q", name, out, want)
			}
		})
	}
}
