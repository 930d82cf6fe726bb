package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/geo"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// TestSnapshotIndicators: the snapshot answers the areas' and the city's
// indicators at the past moment, computed by the twin from the values the
// store held then (not the live ones): a traffic counter's lanes summed
// at their live unit, an air station's EAQI band from its NO2, a noise
// meter's LAeq; a site stale at that moment contributes nothing.
func TestSnapshotIndicators(t *testing.T) {
	s := influxtest.Start(t)
	areas, err := geo.LoadLayer("../../geo/data/firenze-metro-municipalities.geojson", geo.KindAreas, geo.LoadOptions{IDProperty: "com_istat_code"})
	if err != nil {
		t.Fatal(err)
	}
	const firenze, sesto = "048017", "048043" // Firenze, Sesto Fiorentino
	tw, err := twin.New(twin.Config{Areas: areas, Logger: slog.New(slog.DiscardHandler), Sites: []twin.Site{
		{Gateway: "gw", Device: "tc1", Category: "traffic", Lon: 11.2558, Lat: 43.7731, Interval: time.Minute},
		{Gateway: "gw", Device: "aq1", Category: "air", Lon: 11.2622, Lat: 43.7686, Interval: time.Minute},
		{Gateway: "gw", Device: "nm1", Category: "noise", Lon: 11.2000, Lat: 43.8330, Interval: time.Minute},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := tw.Entity(siteEntityID(t, tw, "nm1")); e.Area != sesto {
		t.Fatalf("the noise meter lies in %q, want Sesto Fiorentino %s", e.Area, sesto)
	}
	// Live now: other values, so the answer cannot be the live one. The
	// lanes' unit (1/min) is known from the live readings only.
	now := time.Now().UTC().Truncate(time.Millisecond)
	tw.Apply("gw", 1, &wire.Batch{Gateway: "gw", Epoch: 1, Seqs: []uint64{1, 2, 3, 4}, Readings: []wire.Reading{
		{Device: "tc1", Point: "lane1_intensity", Value: wire.Int(1), Unit: "1/min", Time: now},
		{Device: "tc1", Point: "lane2_intensity", Value: wire.Int(1), Unit: "1/min", Time: now},
		{Device: "aq1", Point: "no2", Value: wire.Float(5), Unit: "ug/m3", Time: now},
		{Device: "nm1", Point: "LAeq", Value: wire.Float(40), Unit: "dB", Time: now},
	}})

	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	ns := func(d time.Duration) int64 { return base.Add(d).UnixNano() }
	writeLines(t, s,
		fmt.Sprintf("traffic,device=tc1,gateway=gw lane1_intensity=10,lane2_intensity=15 %d", ns(0)),
		fmt.Sprintf("air,device=aq1,gateway=gw no2=150 %d", ns(-time.Minute)), // EAQI band 4 (poor: 120..230)
		fmt.Sprintf("noise,device=nm1,gateway=gw LAeq=65 %d", ns(-14*time.Minute)),
	)
	h, err := NewInfluxHistory(s.URL, "", "", s.Bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Reader: tw, Tokens: []string{testToken}, History: h, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)

	resp, body := get(t, srv.URL+"/api/v1/snapshot?at=2026-05-01T10:00:30Z", testToken, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var ans snapshotAnswer
	if err := json.Unmarshal(body, &ans); err != nil || ans.Indicators == nil {
		t.Fatalf("no indicators in %s (%v)", body, err)
	}
	if !ans.Indicators.Generated.Equal(base.Add(30 * time.Second)) {
		t.Errorf("indicators generated %v, want the snapshot's moment", ans.Indicators.Generated)
	}
	value := func(inds []twin.Indicator, name string) (float64, int) {
		for _, i := range inds {
			if i.Name == name {
				if i.Value == nil {
					return -1, i.Sensors
				}
				return *i.Value, i.Sensors
			}
		}
		t.Fatalf("no indicator %s", name)
		return 0, 0
	}
	area := func(id string) []twin.Indicator {
		for _, ai := range ans.Indicators.Areas {
			if ai.ID == id {
				return ai.Indicators
			}
		}
		t.Fatalf("no area %s", id)
		return nil
	}
	for _, c := range []struct {
		where   string
		inds    []twin.Indicator
		name    string
		want    float64 // -1: no value
		sensors int
	}{
		// (10+15) vehicles a minute is 1500 an hour; live it is 120.
		{"Firenze", area(firenze), twin.IndTrafficIntensity, 1500, 1},
		// NO2 150 µg/m³ is band 4 (poor); live 5 is band 1.
		{"Firenze", area(firenze), twin.IndAirBandWorst, 4, 1},
		// The noise meter's value is 14 min old at a 15 min window: stale
		// (older than window/3), so no sensor contributes.
		{"Sesto", area(sesto), twin.IndNoiseLAeqMean, -1, 0},
		{"city", ans.Indicators.City, twin.IndTrafficIntensity, 1500, 1},
		{"city", ans.Indicators.City, twin.IndAirBandMean, 4, 1},
	} {
		if v, n := value(c.inds, c.name); v != c.want || n != c.sensors {
			t.Errorf("%s %s = %v (%d sensors), want %v (%d)", c.where, c.name, v, n, c.want, c.sensors)
		}
	}
	for _, ai := range ans.Indicators.Areas {
		if ai.ID == firenze || ai.ID == sesto {
			continue
		}
		for _, i := range ai.Indicators {
			if i.Value != nil {
				t.Errorf("area %s has %s = %v at that moment, with no site in it", ai.ID, i.Name, *i.Value)
			}
		}
	}

	// Later, with the noise meter's value fresh: it contributes.
	resp, body = get(t, srv.URL+"/api/v1/snapshot?at=2026-05-01T09:47:00Z", testToken, nil)
	ans = snapshotAnswer{}
	if err := json.Unmarshal(body, &ans); resp.StatusCode != http.StatusOK || err != nil || ans.Indicators == nil {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if v, n := value(area(sesto), twin.IndNoiseLAeqMean); v != 65 || n != 1 {
		t.Errorf("Sesto noise at 09:47 = %v (%d sensors), want 65 (1)", v, n)
	}
	if v, _ := value(area(firenze), twin.IndTrafficIntensity); v != -1 {
		t.Errorf("Firenze traffic at 09:47, before any count, = %v, want none", v)
	}
}

// siteEntityID is the entity ID the twin gave the site of device.
func siteEntityID(t *testing.T, tw *twin.Twin, device string) string {
	t.Helper()
	for _, e := range tw.Entities(twin.Filter{Types: []string{string(twin.KindSite)}}) {
		if e.Device == device {
			return e.ID
		}
	}
	t.Fatalf("no site of device %s", device)
	return ""
}
