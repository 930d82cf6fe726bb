package tlsclient

import (
	"crypto/tls"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	c, err := HTTPClient(ca, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(srv.URL)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("a server the CA file vouches for: %v %v", resp, err)
	}
	resp.Body.Close()
	sys, _ := HTTPClient("", 5*time.Second)
	if _, err := sys.Get(srv.URL); err == nil {
		t.Fatal("the system roots trusted a test certificate")
	}
	if cfg, _ := Config(""); cfg.MinVersion != tls.VersionTLS12 {
		t.Fatalf("MinVersion %x", cfg.MinVersion)
	}
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate"), 0o644)
	for file, want := range map[string]string{filepath.Join(dir, "nope.pem"): "read CA file", garbage: "no PEM certificate"} {
		if _, err := Config(file); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Config(%s): %v, want %q", file, err, want)
		}
	}
}
