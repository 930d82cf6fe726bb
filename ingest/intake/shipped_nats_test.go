package intake_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/internal/natstest"
)

// TestShippedNATSNodeConfigs: nats-server accepts each shipped node
// configuration (nats-server -t), the accounts file it includes with it,
// and they keep the settings the intake relies on.
func TestShippedNATSNodeConfigs(t *testing.T) {
	bin := natstest.Binary(t)
	files, err := filepath.Glob("../../deploy/nats/nats-*.conf")
	if err != nil || len(files) != 3 {
		t.Fatalf("shipped node configs %v (%v), want nats-1..3.conf", files, err)
	}
	for _, f := range files {
		out, err := exec.Command(bin, "-t", "-c", f).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "is valid") {
			t.Errorf("%s: nats-server -t: %v\n%s", f, err, out)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, want := range []string{"stream_replicas: 3", "consumer_inactive_threshold", "jetstream {", "cluster {"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q", f, want)
			}
		}
	}
}
