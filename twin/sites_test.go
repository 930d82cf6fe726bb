package twin

import (
	"testing"
	"time"

	sitecfg "github.com/ponte-city/ponte/internal/site"
	"github.com/ponte-city/ponte/wire"
)

func TestSitesFromInventory(t *testing.T) {
	inv, err := sitecfg.LoadInventory([]string{"../deploy/sites/bari-junction.yaml", "../deploy/sites/firenze-lighting-cabinet.yaml"},
		sitecfg.Options{Offline: true, ProfilesDir: "../firmware-profiles"})
	if err != nil {
		t.Fatal(err)
	}
	sites := SitesFromInventory(inv)
	by := map[string]Site{}
	for _, s := range sites {
		by[s.Device] = s
	}
	if len(sites) != 8 {
		t.Errorf("%d sites, want the 5 devices of Bari and 3 of Firenze", len(sites))
	}
	cases := []struct {
		dev, gw, cat string
		interval     time.Duration
		lon, lat     float64
	}{
		{"ba-cavour-piccinni-loops", "ba-murat-cavour-piccinni", "traffic", time.Minute, 16.87021, 41.12332},
		{"ba-cavour-bay-101", "ba-murat-cavour-piccinni", "parking", time.Hour, 16.87102, 41.12262},
		{"fi-q2-0042-meter", "fi-lighting-q2-0042", "energy", 5 * time.Second, 11.26318, 43.78079},
	}
	for _, c := range cases {
		t.Run(c.dev, func(t *testing.T) {
			s, ok := by[c.dev]
			if !ok {
				t.Fatalf("no site for %s", c.dev)
			}
			if s.Gateway != c.gw || string(s.Category) != c.cat || s.Interval != c.interval || s.Lon != c.lon || s.Lat != c.lat {
				t.Errorf("got %+v", s)
			}
		})
	}
	// The real configs place real sites: the loops in Bari, the meter in Firenze.
	tw, _ := newTwin(t, sites)
	for id, area := range map[string]string{
		"urn:ngsi-ld:TrafficFlowObserved:ba-cavour-piccinni-n":   "072006",
		"urn:ngsi-ld:StreetlightControlCabinet:fi-q2-0042":       "048017",
		"urn:ngsi-ld:ParkingSpot:ba-cavour-101":                  "072006",
		"urn:ngsi-ld:TrafficSignalController:ba-cavour-piccinni": "072006",
	} {
		e, ok := tw.Entity(id)
		if !ok || e.Area != area {
			t.Errorf("%s: found %v in area %q, want %s", id, ok, e.Area, area)
		}
	}
	tw.Apply("ba-murat-cavour-piccinni", 1, batch("ba-murat-cavour-piccinni",
		rd("ba-cavour-piccinni-loops", "lane1_intensity", wire.Int(12), "1/min", t0)))
	checkInd(t, indicator(t, areaIndicators(t, tw, "072006"), IndTrafficIntensity), 720, 1) // 12/min * 60
}
