package config

import (
	"path/filepath"
	"testing"
	"time"
)

// TestCommandsOn: commands are on with operator tokens unless turned off,
// with their defaults; without tokens they are off.
func TestCommandsOn(t *testing.T) {
	base := "influx:\n  url: http://127.0.0.1:8086\ngateways:\n  - {id: gw-1, password: a-long-enough-password}\nstate_dir: /var/lib/x\n"
	twin := "twin:\n  areas: [../../geo/data/firenze-metro-municipalities.geojson]\n  tokens: [a-long-enough-operator-token]\n"
	for _, tc := range []struct {
		name, yaml string
		on         bool
		dir        string
		expiry     time.Duration
	}{
		{"no twin", base, false, "/var/lib/x/commands", 5 * time.Minute},
		{"tokens", base + twin, true, "/var/lib/x/commands", 5 * time.Minute},
		{"turned off", base + twin + "commands: {enabled: false}\n", false, "/var/lib/x/commands", 5 * time.Minute},
		{"set", base + twin + "commands: {expiry: 2m, audit_dir: /srv/audit, device_rate: {burst: 1, refill: 1m}}\n", true, "/srv/audit", 2 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("ingest.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			s, on := c.CommandsOn()
			if on != tc.on || filepath.Clean(s.AuditDir) != tc.dir || s.Expiry.D() != tc.expiry || s.MaxExpiry.D() != time.Hour {
				t.Fatalf("on %v dir %s expiry %s max %s", on, s.AuditDir, s.Expiry.D(), s.MaxExpiry.D())
			}
		})
	}
}
