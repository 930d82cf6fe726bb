package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// realTwinServer serves the API over a real twin of sites.
func realTwinServer(t *testing.T, sites []twin.Site) (*twin.Twin, *API, string) {
	t.Helper()
	tw, err := twin.New(twin.Config{Sites: sites, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Reader: tw, Tokens: []string{testToken}, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	t.Cleanup(hs.Close)
	return tw, a, hs.URL
}

// TestGateways: the fleet route lists every gateway entity, sorted, with
// what its status and ingest's registry say, null where nothing was said.
func TestGateways(t *testing.T) {
	sites := []twin.Site{
		{Gateway: "gw-fi", Device: "aq1", Category: "air", Lon: 11.25, Lat: 43.77, Interval: time.Minute},
		{Gateway: "gw-fi", Device: "tc1", Category: "traffic", Lon: 11.27, Lat: 43.79, Interval: time.Minute},
		{Gateway: "gw-ba", Device: "bay", Category: "parking", Lon: 16.87, Lat: 41.12, Interval: time.Minute},
	}
	tw, _, srv := realTwinServer(t, sites)
	oldest := time.Date(2026, 5, 4, 7, 50, 0, 0, time.UTC)
	seen := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	tw.SetGatewayStatus(wire.Status{Gateway: "gw-fi", State: wire.StateOnline, Time: seen, Version: "1.4.0",
		Health: &wire.Health{Buffered: 1200, Oldest: oldest, DevicesUp: 1, DevicesBad: 1}})
	tw.SetGatewayRevoked("gw-ba", true)
	tw.SetGatewayStatus(wire.Status{Gateway: "gw-unknown", State: wire.StateOnline, Time: seen, Version: "9"})

	resp, body := get(t, srv+"/api/v1/gateways", testToken, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Last-Event-ID") == "" {
		t.Fatalf("status %d type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var got struct {
		Gateways []map[string]any `json:"gateways"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	if len(got.Gateways) != 2 {
		t.Fatalf("%d gateways, want gw-ba and gw-fi only: %s", len(got.Gateways), body)
	}
	ba, fi := got.Gateways[0], got.Gateways[1]
	want := map[string]any{
		"id": "urn:ngsi-ld:Device:gw-fi", "gateway": "gw-fi", "freshness": "unknown", "deviceState": "online",
		"softwareVersion": "1.4.0", "lastSeen": seen.Format(time.RFC3339), "buffered": 1200.0,
		"oldestUnsent": "2026-05-04T07:50:00Z", "devicesUp": 1.0, "devicesBad": 1.0, "revoked": false,
	}
	for k, v := range want {
		if fi[k] != v {
			t.Errorf("gw-fi %s = %v, want %v", k, fi[k], v)
		}
	}
	if loc, _ := fi["location"].([]any); len(loc) != 2 || loc[0] != 11.26 || loc[1] != 43.78 {
		t.Errorf("gw-fi location %v, want its sites' centroid", fi["location"])
	}
	for _, k := range []string{"deviceState", "softwareVersion", "lastSeen", "buffered", "oldestUnsent", "devicesUp", "devicesBad"} {
		if v, ok := ba[k]; !ok || v != nil {
			t.Errorf("gw-ba %s = %v (present %v), want null", k, v, ok)
		}
	}
	if ba["id"] != "urn:ngsi-ld:Device:gw-ba" || ba["revoked"] != true {
		t.Errorf("gw-ba %v, want revoked", ba)
	}
}

// TestStreamRemoved: a site removed from the inventory reaches a stream as
// a removed event, and is gone from the entities.
func TestStreamRemoved(t *testing.T) {
	a1 := twin.Site{Gateway: "gw-fi", Device: "aq1", Category: "air", Lon: 11.25, Lat: 43.77, Interval: time.Minute}
	a2 := twin.Site{Gateway: "gw-fi", Device: "aq2", Category: "air", Lon: 11.26, Lat: 43.78, Interval: time.Minute}
	tw, a, srv := realTwinServer(t, []twin.Site{a1, a2})
	c := openStream(t, srv+"/api/v1/stream?type=AirQualityObserved", nil)
	testenv.Eventually(t, 10*time.Second, "the stream to open", func() bool { return a.streams.Load() == 1 })
	if err := tw.SetGatewaySites("gw-fi", []twin.Site{a2}); err != nil {
		t.Fatal(err)
	}
	ev := c.next(t, isEvent("removed"))
	var f testFeature
	if err := json.Unmarshal([]byte(ev.Data), &f); err != nil || f.ID != "urn:ngsi-ld:AirQualityObserved:gw-fi:aq1" || ev.ID == "" {
		t.Fatalf("removed event %+v (%v)", ev, err)
	}
	resp, body := get(t, srv+"/api/v1/entities/"+f.ID, testToken, nil)
	wantError(t, resp, body, http.StatusNotFound, "id", "no entity")
	// A site added is an entity event.
	a3 := twin.Site{Gateway: "gw-fi", Device: "aq3", Category: "air", Lon: 11.27, Lat: 43.79, Interval: time.Minute}
	if err := tw.SetGatewaySites("gw-fi", []twin.Site{a2, a3}); err != nil {
		t.Fatal(err)
	}
	ev = c.next(t, isEvent("entity"))
	if err := json.Unmarshal([]byte(ev.Data), &f); err != nil || f.ID != "urn:ngsi-ld:AirQualityObserved:gw-fi:aq3" {
		t.Fatalf("entity event %+v (%v)", ev, err)
	}
}

// TestInventoryChangesUnderLoad: streams, entity and fleet requests run
// while a gateway's sites come and go and its status changes (run with
// -race); every stream sees the removals, and the answers stay whole.
func TestInventoryChangesUnderLoad(t *testing.T) {
	var all []twin.Site
	for i := range 12 {
		all = append(all, twin.Site{Gateway: "gw-fi", Device: "aq" + strconv.Itoa(i), Category: "air",
			Lon: 11.25 + float64(i)*0.001, Lat: 43.77, Interval: time.Minute})
	}
	tw, a, srv := realTwinServer(t, all)
	streams := []*sseClient{
		openStream(t, srv+"/api/v1/stream", nil),
		openStream(t, srv+"/api/v1/stream?bbox=11.2,43.7,11.3,43.8", nil),
	}
	testenv.Eventually(t, 10*time.Second, "the streams to open", func() bool { return a.streams.Load() == 2 })
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, path := range []string{"/api/v1/entities", "/api/v1/gateways", "/api/v1/entities?bbox=11.2,43.7,11.3,43.8"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				resp, body := get(t, srv+path, testToken, nil)
				if resp.StatusCode != http.StatusOK || !json.Valid(body) {
					t.Errorf("%s: %d %s", path, resp.StatusCode, body)
					return
				}
			}
		}()
	}
	for i := range 60 {
		if err := tw.SetGatewaySites("gw-fi", all[:2+i%10]); err != nil {
			t.Fatal(err)
		}
		tw.SetGatewayStatus(wire.Status{Gateway: "gw-fi", State: wire.StateOnline, Time: time.Now(),
			Health: &wire.Health{Buffered: uint64(i)}})
	}
	close(done)
	wg.Wait()
	// aq11 left at the first call and never came back (at most 11 sites
	// after it); the last call leaves 2+59%10 = 11.
	for _, c := range streams {
		for {
			ev := c.next(t, isEvent("removed"))
			if strings.Contains(ev.Data, `"id":"urn:ngsi-ld:AirQualityObserved:gw-fi:aq11"`) {
				break
			}
		}
	}
	resp, body := get(t, srv+"/api/v1/entities?type=site", testToken, nil)
	var fc testCollection
	if err := json.Unmarshal(body, &fc); err != nil || resp.StatusCode != http.StatusOK || len(fc.Features) != 11 {
		t.Errorf("%d sites at the end (%v), want 11", len(fc.Features), err)
	}
}
