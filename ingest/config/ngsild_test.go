package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/twin/ngsild"
)

// ngsildBase is an ingest config with a twin, to which a test appends its
// twin.ngsild section.
const ngsildBase = "influx:\n  url: http://127.0.0.1:8086\nstate_dir: /var/lib/ponte-test\ngateways:\n  - {id: gw-1, password: a-long-enough-password}\n" +
	"twin:\n  areas: [../../geo/data/firenze-metro-municipalities.geojson]\n  tokens: [a-long-enough-operator-token]\n"

// TestNGSILDSubscriptions: the section's fields reach NGSILDSubscriptions,
// the dir is resolved against the config file and defaults to the state
// dir, and the context URL is the public URL's.
func TestNGSILDSubscriptions(t *testing.T) {
	c, err := Parse("ingest.yaml", []byte(ngsildBase))
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := c.NGSILDSubscriptions(); s != nil {
		t.Errorf("subscriptions without the section: %+v", s)
	}
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	c, err = Parse(filepath.Join(here, "ingest.yaml"), []byte(ngsildBase+`  ngsild:
    public_url: https://ponte.comune.bari.it/
    subscriptions:
      allowed_endpoints: ["https://dash.comune.bari.it/ngsi/", "*.snap4city.org:443"]
      dir: subs
      max_subscriptions: 50
      max_per_scope: 5
      queue: 10
      max_attempts: 3
      retry_base: 500ms
      retry_max: 30s
      delivery_timeout: 2s
`))
	if err != nil {
		t.Fatal(err)
	}
	s, ctxURL := c.NGSILDSubscriptions()
	if s == nil {
		t.Fatal("no subscriptions")
	}
	if ctxURL != "https://ponte.comune.bari.it"+ngsild.ContextPath {
		t.Errorf("context URL %q", ctxURL)
	}
	if s.Dir != filepath.Join(here, "subs") || len(s.AllowedEndpoints) != 2 || s.MaxSubscriptions != 50 || s.MaxPerScope != 5 ||
		s.Queue != 10 || s.MaxAttempts != 3 || s.RetryBase.D() != 500*time.Millisecond || s.RetryMax.D() != 30*time.Second || s.DeliveryTimeout.D() != 2*time.Second {
		t.Errorf("settings %+v", s)
	}
	c, err = Parse("ingest.yaml", []byte(ngsildBase+"  ngsild:\n    public_url: http://10.0.0.5:8080\n    subscriptions: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := c.NGSILDSubscriptions(); s == nil || s.Dir != filepath.Join("/var/lib/ponte-test", "ngsild") {
		t.Errorf("default dir: %+v", s)
	}
	// Subscriptions need the public URL.
	_, err = Parse("bad.yaml", []byte(ngsildBase+"  ngsild:\n    subscriptions:\n      allowed_endpoints: [\"dash.example.org:443\"]\n"))
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:9: twin.ngsild.public_url: required") {
		t.Errorf("no public_url: %v", err)
	}
}
