package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

func abs(t testing.TB, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestTwinFromIngest: with a twin section, ingest places the sites of the
// gateways' site configs on the real shapes, applies each newly written
// batch to them, and marks a gateway's sites offline when its status (the
// last will) says so.
func TestTwinFromIngest(t *testing.T) {
	dir := t.TempDir()
	const entity = duomoEntity
	extra := twinWithSite(t, dir)
	cfg, _ := writeConfig(t, dir, "", extra, 1)
	addrs := start(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	if addrs.Twin == nil {
		t.Fatal("no twin")
	}
	e, ok := addrs.Twin.Entity(entity)
	if !ok {
		t.Fatalf("site %s not in the twin", entity)
	}
	if e.Area != "048017" || e.Freshness != twin.Unknown {
		t.Fatalf("site placed in area %q with freshness %s, want Firenze (048017), unknown", e.Area, e.Freshness)
	}

	gw, err := ingesttest.Connect(addrs.BrokerURL, "gw1", "gw1", password("gw1"))
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Disconnect(50)
	now := time.Now().UTC().Truncate(time.Millisecond)
	b := &wire.Batch{Gateway: "gw1", Epoch: 7, Seqs: []uint64{1, 2},
		Readings: []wire.Reading{
			{Device: "meter-1", Point: "total_power", Value: wire.Float(3200), Unit: "W", Time: now},
			{Device: "meter-1", Point: "voltage_l1", Value: wire.Float(230.1), Unit: "V", Time: now},
		}}
	data, err := wire.Encode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	topics := cfg.Topics()
	if tok := gw.Publish(topics.Up("gw1"), 1, false, data); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	testenv.Eventually(t, 10*time.Second, "the reading applied to the twin", func() bool {
		e, _ := addrs.Twin.Entity(entity)
		return e.Freshness == twin.Fresh && len(e.Attrs) > 0
	})
	e, _ = addrs.Twin.Entity(entity)
	if p := e.Attrs["power"]; p.Value != 3200.0 || p.Unit != "W" {
		t.Errorf("site attributes %+v: want power 3200 W (from total_power)", e.Attrs)
	}

	// The API and the pages are served by ingest: the site as GeoJSON for
	// an operator (token), the indicators for anyone, the map's page.
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+addrs.HTTP+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/api/v1/entities?type=site", "operator-token-0123456789"); code != 200 || !strings.Contains(body, entity) || !strings.Contains(body, `"FeatureCollection"`) {
		t.Errorf("entities: %d %.300s", code, body)
	}
	if code, _ := get("/api/v1/entities", ""); code != http.StatusUnauthorized {
		t.Errorf("entities without a token: %d, want 401", code)
	}
	if code, body := get("/api/v1/indicators", ""); code != 200 || !strings.Contains(body, `"areas"`) {
		t.Errorf("indicators: %d %.300s", code, body)
	}
	// Under -short the pages may not be built (a checkout with only Go):
	// then the page must say how to build them.
	code, body := get("/map/", "")
	switch {
	case code == 200 && strings.Contains(body, "<html"):
	case testing.Short() && code == http.StatusServiceUnavailable && strings.Contains(body, "make web"):
	default:
		t.Errorf("map page: %d %.200s (run make web first)", code, body)
	}

	// The gateway's last will (here published by hand) marks it offline.
	st := wire.EncodeStatus(wire.Status{Gateway: "gw1", State: wire.StateOffline, Time: time.Now()})
	if tok := gw.Publish(topics.Status("gw1"), 1, true, st); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	testenv.Eventually(t, 10*time.Second, "the site offline", func() bool {
		e, _ := addrs.Twin.Entity(entity)
		return e.Freshness == twin.Offline
	})
}

// TestShutdownWithOpenStream: an operator's open SSE stream does not hold
// ingest's shutdown.
func TestShutdownWithOpenStream(t *testing.T) {
	dir := t.TempDir()
	extra := fmt.Sprintf("twin:\n  areas: [%s]\n  tokens: [operator-token-0123456789]\n", abs(t, "../../geo/data/firenze-metro-municipalities.geojson"))
	cfg, _ := writeConfig(t, dir, "", extra, 1)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan app.Addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, cfg, app.Options{Sink: ingesttest.NewMemSink(), Logger: quiet, Started: func(a app.Addrs) { started <- a }})
	}()
	var addrs app.Addrs
	select {
	case addrs = <-started:
	case err := <-done:
		t.Fatalf("app.Run: %v", err)
	}
	req, _ := http.NewRequest("GET", "http://"+addrs.HTTP+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer operator-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	begin := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("app.Run after cancel with a stream open: %v", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("app.Run still running 8s after cancel with a stream open")
	}
	t.Logf("stopped in %s with a stream open", time.Since(begin).Round(time.Millisecond))
}

// duomoEntity is the site twinWithSite places (gateway gw1, device
// meter-1).
const duomoEntity = "urn:ngsi-ld:Streetlight:fi-duomo-cabinet"

// twinWithSite writes gw1's site config (one meter at Piazza del Duomo,
// Firenze) to dir and returns the twin section for writeConfig's extra.
func twinWithSite(t testing.TB, dir string) string {
	t.Helper()
	entity := duomoEntity
	site := fmt.Sprintf(`gateway:
  id: gw1
uplink:
  broker: tcp://127.0.0.1:1883
buffer:
  dir: %s
devices:
  - name: meter-1
    profile: eastron-sdm630-v2
    address: tcp://127.0.0.1:502
    unit: 1
    interval: 10s
    location: {lon: 11.25580, lat: 43.77310}  # Piazza del Duomo, Firenze
    entity: %s
`, filepath.Join(dir, "buf"), entity)
	if err := os.WriteFile(filepath.Join(dir, "site.yaml"), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("sites: [site.yaml]\nprofiles: %s\ntwin:\n  areas: [%s]\n  roads: %s\n  road_max_metres: 100\n  tokens: [operator-token-0123456789]\n",
		abs(t, "../../firmware-profiles"), abs(t, "../../geo/data/firenze-metro-municipalities.geojson"), abs(t, "../../geo/testdata/roads.geojson"))
}
