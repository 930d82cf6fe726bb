package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ponte-city/ponte/ingest/dedup"
)

func TestDedupNATS(t *testing.T) {
	c, err := Parse("ok.yaml", []byte("influx:\n  url: http://i:8086\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.KV(); ok {
		t.Fatal("no dedup.nats, yet a KV store")
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "ingest.yaml")
	if err := os.WriteFile(filepath.Join(dir, "nats.password"), []byte("a-long-enough-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := "influx:\n  url: http://i:8086\ndedup:\n  nats:\n    urls: [nats://10.0.0.1:4222, nats://10.0.0.2:4222]\n" +
		"    bucket: city-dedup\n    replicas: 5\n    user: ingest\n    password_file: nats.password\n    timeout: 2s\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(path)
	if err != nil {
		t.Fatal(err)
	}
	kc, ok := c.KV()
	// The login travels as nats.go options: applied, they set it.
	var login nats.Options
	for _, o := range kc.Options {
		if err := o(&login); err != nil {
			t.Fatal(err)
		}
	}
	if login.User != "ingest" || login.Password != "a-long-enough-password" {
		t.Errorf("KV()'s options log in as %q/%q; want ingest and the password file's content", login.User, login.Password)
	}
	kc.Options = nil
	want := dedup.KVConfig{URLs: []string{"nats://10.0.0.1:4222", "nats://10.0.0.2:4222"}, Bucket: "city-dedup", Replicas: 5,
		Timeout: 2 * time.Second}
	if !ok || !reflect.DeepEqual(kc, want) {
		t.Fatalf("KV() = %+v, %v; want %+v", kc, ok, want)
	}
	if err := kc.Validate(); err != nil {
		t.Fatalf("the KV configuration from a valid file: %v", err)
	}
}

func TestDedupNATSErrors(t *testing.T) {
	const head = "influx:\n  url: http://i:8086\ndedup:\n  nats:\n"
	tests := []struct{ name, yaml, want string }{
		{"no urls", head + "    bucket: x\n", "bad.yaml:4: dedup.nats.urls: required"},
		{"bad url", head + "    urls: [10.0.0.1:4222]\n", `bad.yaml:5: dedup.nats.urls[0]: "10.0.0.1:4222" is not a NATS URL`},
		{"bad bucket", head + "    urls: [nats://a:4222]\n    bucket: a.b\n", `bad.yaml:6: dedup.nats.bucket: "a.b" (expected letters, digits`},
		{"replicas", head + "    urls: [nats://a:4222]\n    replicas: 7\n", "bad.yaml:6: dedup.nats.replicas: 7 (expected 1 to 5"},
		{"two ways", head + "    urls: [nats://a:4222]\n    user: u\n    password: a-long-enough-password\n    token: a-long-enough-token-too\n", "bad.yaml:4: dedup.nats: give one login: user and password, token, or credentials"},
		{"user without password", head + "    urls: [nats://a:4222]\n    user: u\n", `dedup.nats.password: required with user "u"`},
		{"short token", head + "    urls: [nats://a:4222]\n    token: short\n", "bad.yaml:6: dedup.nats.token: the secret is 5 characters long"},
		{"no creds file", head + "    urls: [nats://a:4222]\n    credentials: /nonexistent/ingest.creds\n", `bad.yaml:6: dedup.nats.credentials: cannot read "/nonexistent/ingest.creds"`},
		{"timeout", head + "    urls: [nats://a:4222]\n    timeout: 1ms\n", "bad.yaml:6: dedup.nats.timeout: 1ms (expected a duration of 100ms or more"},
		{"unknown field", head + "    urls: [nats://a:4222]\n    replica: 3\n", `bad.yaml:6: dedup.nats.replica: unknown field "replica"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want it to contain %q", err, tc.want)
			}
		})
	}
}
