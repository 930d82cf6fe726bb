package config

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/internal/secret/secrettest"
	"github.com/ponte-city/ponte/internal/testenv"
)

// TestBadSecrets runs every testdata/<case>/: config.yaml must fail to
// load with exactly the lines of expected.err. An optional env file
// (NAME=value lines) is set first.
func TestBadSecrets(t *testing.T) {
	testenv.ErrorCases(t, "testdata/*/config.yaml", func(t *testing.T, path string) error {
		setEnvFile(t, filepath.Join(filepath.Dir(path), "env"))
		_, err := Load(path)
		return err
	})
}

func setEnvFile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			t.Setenv(k, v)
		}
	}
}

// TestShippedExampleRefused: the example as shipped does not start, and
// says which fields hold placeholders.
func TestShippedExampleRefused(t *testing.T) {
	t.Setenv("PONTE_HTTP_TOKEN_BA_MURAT_CAVOUR_PICCINNI", secrettest.Random(t))
	_, err := Load("../../deploy/ingest/ponte-ingest.yaml")
	if err == nil {
		t.Fatal("the shipped example loads with its placeholder secrets")
	}
	for _, field := range []string{"broker.password", "gateways[0].password", "gateways[0].http_token", "gateways[1].password_hash", "twin.tokens[0]"} {
		if !strings.Contains(err.Error(), ": "+field+": ") || !strings.Contains(err.Error(), "placeholder from the shipped example") {
			t.Errorf("error does not refuse %s:\n%v", field, err)
		}
	}
}

// writeFile writes a file of the given mode into dir and returns its path.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask
		t.Fatal(err)
	}
	return p
}

// TestSecretsFromFilesAndEnv: each secret field reads its file or
// variable, relative files from the config's folder.
func TestSecretsFromFilesAndEnv(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "broker.pw", "broker-password-from-file\n", 0o600)
	writeFile(t, dir, "influx.token", "influx-token-from-a-file", 0o600)
	writeFile(t, dir, "tokens", "# operators\noperator-token-number-1\n\noperator-token-number-2\n", 0o600)
	t.Setenv("PONTE_TEST_GW_PW", "gateway-password-from-env")
	t.Setenv("PONTE_TEST_GW_TOKEN", "gateway-http-token-from-env")
	cfg := writeFile(t, dir, "ingest.yaml", `
broker:
  password_file: broker.pw
influx:
  url: http://127.0.0.1:8086
  token_file: `+filepath.Join(dir, "influx.token")+`
gateways:
  - id: gw-1
    password_env: PONTE_TEST_GW_PW
    http_token_env: PONTE_TEST_GW_TOKEN
twin:
  areas: [`+filepath.Join(mustAbs(t, "../../geo/data"), "firenze-metro-municipalities.geojson")+`]
  tokens_file: tokens
`, 0o600)
	c, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.Broker.Password != "broker-password-from-file" || c.Influx.Token != "influx-token-from-a-file" {
		t.Errorf("broker password %q, influx token %q", c.Broker.Password, c.Influx.Token)
	}
	if c.Passwords()["gw-1"] != "gateway-password-from-env" || c.Tokens()["gw-1"] != "gateway-http-token-from-env" {
		t.Errorf("passwords %v, tokens %v", c.Passwords(), c.Tokens())
	}
	if got := strings.Join(c.Twin.Tokens, ","); got != "operator-token-number-1,operator-token-number-2" {
		t.Errorf("operator tokens %q", got)
	}
	if w := c.SecretWarnings(); len(w) != 0 {
		t.Errorf("warnings for 0600 files: %v", w)
	}
	if err := c.Validate(); err != nil { // ponte-ingest validates again after its flags
		t.Errorf("second Validate: %v", err)
	}
	t.Setenv("PONTE_TEST_GW_PW", "")
	if _, err := Load(cfg); err == nil || !strings.Contains(err.Error(), "ingest.yaml:9: gateways[0].password_env: environment variable PONTE_TEST_GW_PW is not set") {
		t.Errorf("an emptied variable: %v", err)
	}
}

// TestSecretFileWarnings: the config file holding inline secrets and a
// *_file that others may read are named, with the fix; private ones and a
// config without inline secrets are not.
func TestSecretFileWarnings(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "gw.pw", "gateway-password-in-a-file", 0o644)
	writeFile(t, dir, "private.pw", "another-gateway-password", 0o600)
	inline := writeFile(t, dir, "inline.yaml", "influx:\n  url: http://i:8086\ngateways:\n  - id: a\n    http_token: a-long-enough-http-token\n    password_file: gw.pw\n", 0o640)
	noInline := writeFile(t, dir, "files.yaml", "influx:\n  url: http://i:8086\ngateways:\n  - id: a\n    password_file: private.pw\n", 0o644)

	c, err := Load(inline)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, w := range c.SecretWarnings() {
		got[w.File] = w.String()
	}
	if len(got) != 2 || !strings.Contains(got[inline], "mode 0640") || !strings.Contains(got[inline], "chmod 600 "+inline) ||
		!strings.Contains(got[pw], "mode 0644") || !strings.Contains(got[pw], "chmod 600 "+pw) {
		t.Errorf("warnings %v", got)
	}
	c, err = Load(noInline)
	if err != nil {
		t.Fatal(err)
	}
	if w := c.SecretWarnings(); len(w) != 0 {
		t.Errorf("warnings for a config without inline secrets and a private password file: %v", w)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
