package secret

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// secretKeys are the config keys that hold a secret inline, in every
// Ponte config file.
var secretKeys = map[string]bool{"password": true, "token": true, "http_token": true, "tokens": true, "password_hash": true}

// shippedSecrets returns every non-empty secret value written in the
// YAML files under deploy/.
func shippedSecrets(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("../../deploy/*/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("shipped configs: %v %v", files, err)
	}
	found := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var root yaml.Node
		if err := yaml.Unmarshal(data, &root); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var walk func(n *yaml.Node, key string)
		walk = func(n *yaml.Node, key string) {
			switch n.Kind {
			case yaml.DocumentNode, yaml.SequenceNode:
				for _, c := range n.Content {
					walk(c, key)
				}
			case yaml.MappingNode:
				for i := 0; i+1 < len(n.Content); i += 2 {
					walk(n.Content[i+1], n.Content[i].Value)
				}
			case yaml.ScalarNode:
				if secretKeys[key] && n.Value != "" {
					found[n.Value] = f + ":" + key
				}
			}
		}
		walk(&root, "")
	}
	return found
}

// TestPlaceholdersMatchShippedExamples derives the placeholder secrets
// from the shipped configs: every secret they hold is refused, and the
// list holds nothing else.
func TestPlaceholdersMatchShippedExamples(t *testing.T) {
	found := shippedSecrets(t)
	if len(found) == 0 {
		t.Fatal("no secrets found in deploy/*/*.yaml; the walk is broken or the examples changed")
	}
	for v, where := range found {
		if !slices.Contains(Placeholders(), v) {
			t.Errorf("%s holds %q, which is not in the placeholder list", where, v)
		}
		if Check(v) == "" && CheckHash(v) == "" {
			t.Errorf("%s: %q is accepted", where, v)
		}
	}
	for _, p := range Placeholders() {
		if _, ok := found[p]; !ok {
			t.Errorf("placeholder %q is in no shipped config (remove it from the list)", p)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"0123456789abcdef", ""},
		{"0123456789abcde", "is 15 characters long (expected at least 16"},
		{"change-me-operator-token-0123456789", "is the placeholder from the shipped example config"},
	}
	for _, tc := range tests {
		if got := Check(tc.in); !strings.HasPrefix(got, tc.want) || (tc.want == "") != (got == "") {
			t.Errorf("Check(%q) = %q, want prefix %q", tc.in, got, tc.want)
		}
	}
}

func TestCheckHash(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"$2a$10$7v1QvWsNAFQ/WttR1.KSVOh2WDxBPbq2K/v6S6cdGvovrHI9RHLXK", "is the placeholder"},
		{"$2a$04$yDt6ORm.HM/T227Jk.CDvOXQjEsWKLy0kj/5hrNGoun5nvwrQ/gri", "bcrypt cost 4 (expected at least 10)"},
		{"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", ""},
		{"secret", "not a bcrypt hash"},
	}
	for _, tc := range tests {
		if got := CheckHash(tc.in); !strings.HasPrefix(got, tc.want) || (tc.want == "") != (got == "") {
			t.Errorf("CheckHash(%q) = %q, want prefix %q", tc.in, got, tc.want)
		}
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("from-a-file-0123456789\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PW": "from-the-env-0123456789", "BLANK": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name                    string
		ref                     Ref
		value, from, wantPrefix string
	}{
		{"inline", Ref{Value: "inline"}, "inline", "", ""},
		{"file", Ref{File: file}, "from-a-file-0123456789", "_file", ""},
		{"env", Ref{Env: "PW"}, "from-the-env-0123456789", "_env", ""},
		{"two ways", Ref{Value: "x", Env: "PW"}, "", "_env", "give the secret one way only"},
		{"three ways", Ref{Value: "x", File: file, Env: "PW"}, "", "_file", "give the secret one way only"},
		{"missing file", Ref{File: filepath.Join(dir, "nope")}, "", "_file", "cannot read the secret: open " + dir},
		{"empty file", Ref{File: empty}, "", "_file", empty + " is empty"},
		{"unset env", Ref{Env: "NOPE"}, "", "_env", "environment variable NOPE is not set"},
		{"empty env", Ref{Env: "BLANK"}, "", "_env", "environment variable BLANK is not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, from, problem := tc.ref.Resolve(lookup)
			if v != tc.value || from != tc.from || !strings.HasPrefix(problem, tc.wantPrefix) || (tc.wantPrefix == "") != (problem == "") {
				t.Fatalf("Resolve = %q, %q, %q; want %q, %q, prefix %q", v, from, problem, tc.value, tc.from, tc.wantPrefix)
			}
		})
	}
}

func TestCheckFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o400, false}, {0o640, true}, {0o604, true}, {0o644, true}} {
		f := filepath.Join(dir, tc.mode.String())
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, tc.mode); err != nil {
			t.Fatal(err)
		}
		w, ok := CheckFile(f)
		if ok != tc.warn {
			t.Errorf("mode %#o: warning %v, want %v", tc.mode, ok, tc.warn)
		}
		if ok && (w.File != f || w.Mode != tc.mode || w.Fix() != "chmod 600 "+f || !strings.Contains(w.String(), "chmod 600 "+f)) {
			t.Errorf("mode %#o: warning %+v %q", tc.mode, w, w.String())
		}
	}
	if _, ok := CheckFile(filepath.Join(dir, "missing")); ok {
		t.Error("a missing file warned")
	}
}
