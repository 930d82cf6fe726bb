package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestToolsBin checks where Need looks for the tools deploy/bootstrap
// builds: $BOOTSTRAP_TOOLS/bin when set, else .tools/bin beside the
// module's go.mod, so that a plain `go test` finds them.
func TestToolsBin(t *testing.T) {
	t.Setenv("BOOTSTRAP_TOOLS", "")
	got := ToolsBin()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, ".tools", "bin"); got != want {
		t.Errorf("ToolsBin() = %q without BOOTSTRAP_TOOLS, want %q", got, want)
	}

	dir := t.TempDir()
	t.Setenv("BOOTSTRAP_TOOLS", dir)
	if got, want := ToolsBin(), filepath.Join(dir, "bin"); got != want {
		t.Errorf("ToolsBin() = %q with BOOTSTRAP_TOOLS=%s, want %q", got, dir, want)
	}
}

// TestNeedFindsProjectTools checks that a program only in the tools folder
// (not on PATH) is found.
func TestNeedFindsProjectTools(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "ponte-test-tool")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BOOTSTRAP_TOOLS", dir)
	t.Setenv("PATH", t.TempDir())
	if got := lookPath("ponte-test-tool"); got != bin {
		t.Errorf("lookPath = %q, want %q", got, bin)
	}
}

// TestBootstrapNamesWhatIsMissing runs deploy/bootstrap as a new user's
// machine would see it: a PATH holding only basic tools (no socat,
// mosquitto, chromium, gcc, sudo), no influxd anywhere, not
// root. It must name every missing Debian package, print the one command
// to run, exit 1, and install or build nothing: apt-get here is a stub
// that records being called, and the tools folder must stay empty.
func TestBootstrapNamesWhatIsMissing(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	cases := []struct {
		name    string
		args    []string
		code    int      // exit status
		want    []string // in the output
		notWant []string
	}{
		{
			name: "demo, not root",
			args: []string{"demo"},
			code: 1,
			want: []string{
				"Debian package socat", "Debian package mosquitto",
				"influxd v1.8.10 (built from source with go install",
				"sudo apt-get update && sudo apt-get install -y --no-install-recommends",
			},
			notWant: []string{"chromium", "gcc", "staticcheck", "qemu-user-static", "building influxd"},
		},
		{
			name: "test, dry run",
			args: []string{"--dry-run", "test"},
			code: 0,
			want: []string{
				"Debian package socat", "Debian package mosquitto",
				"Debian package chromium", "Debian package gcc",
				"would run: apt-get update && apt-get install -y --no-install-recommends",
				"would run: GOBIN=", "go install -v github.com/influxdata/influxdb/cmd/influxd@v1.8.10",
			},
			notWant: []string{"staticcheck", "qemu-user-static", "building influxd"},
		},
		{
			name: "ci, dry run",
			args: []string{"--dry-run", "ci"},
			code: 0,
			want: []string{
				"Debian package chromium", "Debian package qemu-user-static",
				"honnef.co/go/tools/cmd/staticcheck@", "cmd/influxd@v1.8.10",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pathDir, called := strippedPath(t)
			tools := t.TempDir()
			cmd := exec.Command(bash, append([]string{"../../deploy/bootstrap"}, tc.args...)...)
			cmd.Env = append(os.Environ(),
				"PATH="+pathDir,
				"BOOTSTRAP_SBIN=",        // mosquitto is in /usr/sbin here
				"BOOTSTRAP_TOOLS="+tools, // no influxd of ours
				"GOPATH="+t.TempDir(),    // nor one in GOPATH/bin
				"GOFLAGS=", "GOTOOLCHAIN=local",
			)
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("run deploy/bootstrap: %v", err)
			}
			if code != tc.code {
				t.Errorf("exit status %d, want %d; output:\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(string(out), w) {
					t.Errorf("output names %q, which this mode does not need:\n%s", w, out)
				}
			}
			if _, err := os.Stat(called); err == nil {
				t.Errorf("deploy/bootstrap ran apt-get; output:\n%s", out)
			}
			if entries, _ := os.ReadDir(tools); len(entries) != 0 {
				t.Errorf("deploy/bootstrap wrote into the tools folder: %v", entries)
			}
		})
	}
}

// strippedPath makes a folder of symlinks to the basic programs
// deploy/bootstrap uses, an id that says uid 1000 and an apt-get stub that
// leaves the file called behind and fails. It returns the folder and
// that file's path.
func strippedPath(t *testing.T) (dir, called string) {
	t.Helper()
	dir = t.TempDir()
	for _, name := range []string{"bash", "dirname", "go", "find", "sed", "cut", "grep", "cat", "env", "mktemp", "awk", "tee", "tail", "rm", "mkdir"} {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	called = filepath.Join(t.TempDir(), "apt-get-called")
	stubs := map[string]string{
		"id":      "#!/bin/sh\necho 1000\n",
		"apt-get": "#!/bin/sh\necho \"$@\" >>" + called + "\nexit 1\n",
	}
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, called
}
