package natscallout_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/internal/natstest"
)

// TestShippedNodeConfigsWithCallout: each shipped node configuration
// with its commented include of callout.conf turned on is accepted by
// nats-server -t (as a site runs it once the issuer is set).
func TestShippedNodeConfigsWithCallout(t *testing.T) {
	bin := natstest.Binary(t)
	dir := t.TempDir()
	for _, f := range []string{"accounts.conf", "callout.conf"} {
		b, err := os.ReadFile("../../deploy/nats/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := filepath.Glob("../../deploy/nats/nats-*.conf")
	if err != nil || len(files) != 3 {
		t.Fatalf("shipped node configs %v (%v), want nats-1..3.conf", files, err)
	}
	const include = "# include callout.conf"
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), include) {
			t.Errorf("%s lacks %q", f, include)
			continue
		}
		conf := strings.Replace(string(b), include, "include callout.conf", 1)
		conf = strings.ReplaceAll(conf, "/var/lib/nats", filepath.Join(dir, "js"))
		path := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "-t", "-c", path).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "is valid") {
			t.Errorf("%s with callout.conf: nats-server -t: %v\n%s", f, err, out)
		}
	}
}
