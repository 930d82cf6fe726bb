package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSharedNATS: the top-level nats: block is taken, resolved secrets
// and TLS files included, by every NATS section that gives no connection
// of its own; a section with its own keeps it.
func TestSharedNATS(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nats.password"), []byte("nats-secret-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "ingest.yaml")
	cfg, err := Parse(name, []byte(`influx:
  url: http://influx:8086
  bucket: ponte
nats:
  urls: [nats://nats-1:4222, nats://nats-2:4222]
  user: ponte-ingest
  password_file: nats.password
broker:
  nats: {}
dedup:
  nats:
    urls: [nats://other:4222]
    user: dedup
    password: dedup-secret-0123456789
`))
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Broker.NATS.NATSConn
	if strings.Join(b.URLs, ",") != "nats://nats-1:4222,nats://nats-2:4222" || b.User != "ponte-ingest" || b.Password != "nats-secret-0123456789abcdef" {
		t.Errorf("broker.nats took %+v", b)
	}
	if d := cfg.Dedup.NATS.NATSConn; d.User != "dedup" || d.URLs[0] != "nats://other:4222" {
		t.Errorf("dedup.nats, with its own connection, got %+v", d)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("validated again (as ponte-ingest does after its flags): %v", err)
	}
	b.URLs[0] = "changed"
	if cfg.NATS.URLs[0] != "nats://nats-1:4222" {
		t.Error("a section's copy shares its URLs with the block")
	}
}

func TestSharedNATSErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unused", "nats:\n  urls: [nats://a:4222]\nbroker:\n  nats:\n    urls: [nats://b:4222]\n",
			[]string{"nats: no section takes it"}},
		{"bad block, named once", "nats:\n  urls: [http://a]\n  user: u\nbroker:\n  nats: {}\ndedup:\n  nats: {}\n",
			[]string{"nats.urls[0]", "nats.password: required"}},
		{"a section's own, incomplete", "nats:\n  urls: [nats://a:4222]\nbroker:\n  nats: {}\ndedup:\n  nats:\n    user: d\n",
			[]string{"dedup.nats.urls: required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("ingest.yaml", []byte("influx:\n  url: http://influx:8086\n  bucket: b\n"+tc.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
				if n := strings.Count(err.Error(), w); n > 1 {
					t.Errorf("%q said %d times:\n%s", w, n, err)
				}
			}
		})
	}
}

// TestSharedNATSRelativeFolder: a configuration loaded from a relative
// path and validated twice (as ponte-ingest does) keeps its NATS files'
// paths.
func TestSharedNATSRelativeFolder(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.MkdirAll("etc", 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"etc/nats.creds": "creds", "etc/ca.pem": "", "etc/ingest.yaml": `influx:
  url: http://influx:8086
  bucket: ponte
nats:
  urls: [tls://nats-1:4222]
  credentials: nats.creds
broker:
  nats: {}
`} {
		if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := Load("etc/ingest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("validated again: %v", err)
	}
	if got := cfg.Broker.NATS.Credentials; got != filepath.Join("etc", "nats.creds") {
		t.Errorf("broker.nats.credentials = %q, want etc/nats.creds", got)
	}
}
