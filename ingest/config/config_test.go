package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/secret/secrettest"
)

// TestExampleLoads loads the shipped example with its placeholder secrets
// replaced (as an operator must), from its own folder.
func TestExampleLoads(t *testing.T) {
	const example = "../../deploy/ingest/ponte-ingest.yaml"
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	tok2 := secrettest.Random(t)
	t.Setenv("PONTE_HTTP_TOKEN_BA_MURAT_CAVOUR_PICCINNI", tok2)
	c, err := Parse(example, secrettest.ReplacePlaceholders(t, data))
	if err != nil {
		t.Fatal(err)
	}
	if c.Influx.Bucket != "ponte/autogen" || c.MaxAge.D() != 720*time.Hour || len(c.Gateways) != 2 {
		t.Fatalf("decoded %+v", c)
	}
	if got := c.Passwords(); len(got) != 1 || len(got["fi-lighting-q2-0042"]) < 16 {
		t.Errorf("Passwords = %v", got)
	}
	if got := c.Tokens(); len(got) != 2 || got["ba-murat-cavour-piccinni"] != tok2 {
		t.Errorf("Tokens = %v", got)
	}
	// Tags from the site configs (deploy/sites/*.yaml).
	if area, typ := c.Meta()("ba-murat-cavour-piccinni", "ba-cavour-air"); area != "Municipio I" || typ != "air" {
		t.Errorf("Meta = %q %q", area, typ)
	}
	if area, typ := c.Meta()("fi-lighting-q2-0042", "fi-q2-0042-meter"); area != "Quartiere 2" || typ != "energy" {
		t.Errorf("Meta = %q %q", area, typ)
	}
	if area, typ := c.Meta()("ba-murat-cavour-piccinni", "aq-1"); area != "" || typ != "" {
		t.Errorf("Meta of an unlisted device = %q %q", area, typ)
	}
	if got := c.Devices(); len(got) != 2 || len(got["ba-murat-cavour-piccinni"]) != 5 {
		t.Errorf("Devices = %v", got)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("min.yaml", []byte("influx:\n  url: http://influx:8086\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	if c.Broker.Listen != d.Broker.Listen || c.HTTP.Listen != d.HTTP.Listen || c.TopicPrefix != "ponte" ||
		c.UnknownDevices != "dead_letter" || c.MaxNewDevices != 0 {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

func TestPasswordHash(t *testing.T) {
	c, err := Parse("ok.yaml", []byte("influx:\n  url: http://i:8086\ngateways:\n  - id: a\n    password_hash: \"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if h := c.PasswordHashes()["a"]; string(h) != "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy" {
		t.Fatalf("hash %q", h)
	}
	if _, plain := c.Passwords()["a"]; plain {
		t.Fatal("a hashed gateway has a plain password")
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown field", "influx:\n  url: http://i:8086\n  buckt: x\n", `bad.yaml:3: influx.buckt: unknown field "buckt"`},
		{"no influx url", "state_dir: /x\n", "bad.yaml:1: influx.url: required"},
		{"bad influx url", "influx:\n  url: influx:8086\n", `bad.yaml:2: influx.url: "influx:8086" is not an http(s) URL`},
		{"bad broker url", "broker:\n  url: 1883\ninflux:\n  url: http://i:8086\n", `bad.yaml:2: broker.url: "1883" is not a broker URL`},
		{"bad policy", "influx:\n  url: http://i:8086\nunknown_devices: drop\n", `bad.yaml:3: unknown_devices: "drop" (expected accept or dead_letter)`},
		{"bad duration", "influx:\n  url: http://i:8086\nmax_age: 30\n", `bad.yaml:3: max_age: expected a duration string`},
		{"bad gateway id", "influx:\n  url: http://i:8086\ngateways:\n  - id: a/b\n    password: x\n", `bad.yaml:4: gateways[0].id: "a/b" is not a gateway ID`},
		{"duplicate gateway", "influx:\n  url: http://i:8086\ngateways:\n  - id: a\n    password: x\n  - id: a\n    password: y\n", `bad.yaml:6: gateways[1].id: "a" already used by gateways[0]`},
		{"no credentials", "influx:\n  url: http://i:8086\ngateways:\n  - id: a\n", `gateways[0]: gateway "a" has neither password`},
		{"devices in ingest's config", "influx:\n  url: http://i:8086\ngateways:\n  - id: a\n    password: x\n    devices:\n      - id: d\n", `bad.yaml:6: gateways[0].devices: devices are described once, in their gateway's site config`},
		{"twin sites", "influx:\n  url: http://i:8086\ntwin:\n  sites: [a.yaml]\n", `bad.yaml:4: twin.sites: moved to the top level as sites:`},
		{"sites without profiles", "influx:\n  url: http://i:8086\nsites: [testdata/*/config.yaml]\n", `bad.yaml:3: sites: needs profiles:`},
		{"no site config", "influx:\n  url: http://i:8086\nsites: [/nonexistent/*.yaml]\nprofiles: /p\n", `bad.yaml:3: sites[0]: "/nonexistent/*.yaml" matches no site config`},
		{"bad listen", "influx:\n  url: http://i:8086\nhttp:\n  listen: 8080\n", `bad.yaml:4: http.listen: "8080" is not host:port`},
		{"gateway named as ingest", "influx:\n  url: http://i:8086\ngateways:\n  - id: ponte-ingest\n    password: x\n", `is ingest's own broker username`},
		{"bad password hash", "influx:\n  url: http://i:8086\ngateways:\n  - id: a\n    password_hash: secret\n", `bad.yaml:5: gateways[0].password_hash: not a bcrypt hash`},
		{"password and hash", "influx:\n  url: http://i:8086\ngateways:\n  - id: a\n    password: x\n    password_hash: \"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy\"\n", `bad.yaml:6: gateways[0].password_hash: give password or password_hash, not both`},
		{"twin without areas or tokens", "influx:\n  url: http://i:8086\ntwin:\n  stale_factor: 0.5\n", `bad.yaml:3: twin.areas: required`},
		{"twin without tokens", "influx:\n  url: http://i:8086\ntwin:\n  stale_factor: 2\n", `bad.yaml:3: twin.tokens: required`},
		{"twin bad stale factor", "influx:\n  url: http://i:8086\ntwin:\n  stale_factor: 0.5\n", `bad.yaml:4: twin.stale_factor: 0.5 (expected 1 or more)`},
		{"twin missing areas file", "influx:\n  url: http://i:8086\ntwin:\n  areas: [/nonexistent/areas.geojson]\n", `bad.yaml:4: twin.areas[0]: "/nonexistent/areas.geojson": no such file`},
		{"gap timeout removed", "influx:\n  url: http://i:8086\ngap_timeout: 1m\n", `bad.yaml:3: gap_timeout: no longer supported: ingest never gives a sequence gap up on a timer`},
		{"negative series cap", "influx:\n  url: http://i:8086\nmax_new_devices: -1\n", `bad.yaml:3: max_new_devices: -1 (expected a number of devices per hour; 0 for the default)`},
		{"negative cap", "influx:\n  url: http://i:8086\ndead_letter:\n  max_bytes: -1\n", `bad.yaml:4: dead_letter.max_bytes: -1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}
