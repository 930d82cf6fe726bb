package site

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSecretSite writes a site config with the given uplink lines and
// mode into dir, and a password file of the given mode.
func writeSecretSite(t *testing.T, dir, uplink string, siteMode, pwMode os.FileMode) string {
	t.Helper()
	pw := filepath.Join(dir, "uplink.password")
	if err := os.WriteFile(pw, []byte("password-from-a-file-123\n"), pwMode); err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(dir, "site.yaml")
	src := "gateway: {id: gw-1}\nuplink:\n  broker: tcp://127.0.0.1:1883\n" + uplink + "devices: []\n"
	if err := os.WriteFile(site, []byte(src), siteMode); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{pw, pwMode}, {site, siteMode}} {
		if err := os.Chmod(f.path, f.mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	return site
}

// TestUplinkPasswordSources: the uplink password from a file or the
// environment, and the warning for files holding it that others can read.
func TestUplinkPasswordSources(t *testing.T) {
	t.Setenv("PONTE_TEST_UPLINK_PASSWORD", "password-from-the-env-123")
	tests := []struct {
		name             string
		uplink           string
		siteMode, pwMode os.FileMode
		want             string
		warned           []string // file names warned about
	}{
		{"file", "  password_file: uplink.password\n", 0o644, 0o600, "password-from-a-file-123", nil},
		{"readable file", "  password_file: uplink.password\n", 0o600, 0o644, "password-from-a-file-123", []string{"uplink.password"}},
		{"env", "  password_env: PONTE_TEST_UPLINK_PASSWORD\n", 0o644, 0o644, "password-from-the-env-123", nil},
		{"inline, private config", "  password: inline-password-0123456\n", 0o600, 0o644, "inline-password-0123456", nil},
		{"inline, readable config", "  password: inline-password-0123456\n", 0o640, 0o600, "inline-password-0123456", []string{"site.yaml"}},
		{"none (mutual TLS)", "", 0o644, 0o644, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			site := writeSecretSite(t, dir, tc.uplink, tc.siteMode, tc.pwMode)
			s, err := Load(site, Options{ProfilesDir: shippedProfiles})
			if err != nil {
				t.Fatal(err)
			}
			if s.Uplink.Secret() != tc.want {
				t.Errorf("password %q, want %q", s.Uplink.Secret(), tc.want)
			}
			var warned []string
			for _, w := range s.SecretWarnings() {
				warned = append(warned, filepath.Base(w.File))
				if !strings.Contains(w.String(), "chmod 600 "+w.File) {
					t.Errorf("warning %q does not give the fix", w)
				}
			}
			if strings.Join(warned, ",") != strings.Join(tc.warned, ",") {
				t.Errorf("warned about %v, want %v", warned, tc.warned)
			}
		})
	}
}

// TestUplinkPasswordOffline: --check away from the box does not need the
// password file or variable, but still refuses a weak inline password.
func TestUplinkPasswordOffline(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ uplink, wantErr string }{
		{"  password_file: /nonexistent/uplink.password\n", ""},
		{"  password_env: PONTE_TEST_UNSET_UPLINK_PASSWORD\n", ""},
		{"  password: short\n", "site.yaml:4: uplink.password: the password is 5 characters long"},
		{"  password_file: /nonexistent/uplink.password\n  password_env: X\n", "site.yaml:4: uplink.password_file: give the secret one way only"},
	} {
		site := writeSecretSite(t, dir, tc.uplink, 0o600, 0o600)
		_, err := Load(site, Options{ProfilesDir: shippedProfiles, Offline: true})
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%q: err %v, want %q", tc.uplink, err, tc.wantErr)
		}
	}
}
