package opsctl

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/ponte-city/ponte/ingest/natscallout"
)

// TestNATSIssuer: the command writes a seed ingest loads, prints its
// public key (the seed only in the file), and never replaces a seed.
func TestNATSIssuer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.nk")
	var out, errOut bytes.Buffer
	if code := NATSIssuer(context.Background(), Env{Stdout: &out, Stderr: &errOut}, []string{path}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	kp, err := natscallout.LoadIssuer(path)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	if got := strings.TrimSpace(out.String()); got != pub || !nkeys.IsValidPublicAccountKey(got) {
		t.Errorf("printed %q; want the account public key %s", got, pub)
	}
	if strings.Contains(out.String()+errOut.String(), string(seed)) {
		t.Error("the seed was printed")
	}
	errOut.Reset()
	if code := NATSIssuer(context.Background(), Env{Stdout: &out, Stderr: &errOut}, []string{path}); code != ExitFail || !strings.Contains(errOut.String(), "never replaced") {
		t.Errorf("second run: exit %d, %q; want a refusal to replace the seed", code, errOut.String())
	}
	if code := NATSIssuer(context.Background(), Env{Stdout: &out, Stderr: &errOut}, nil); code != ExitUsage {
		t.Errorf("no file: exit %d; want %d", code, ExitUsage)
	}
}
