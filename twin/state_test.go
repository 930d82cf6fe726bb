package twin

import (
	"testing"
	"time"

	"github.com/ponte-city/ponte/wire"
)

func TestPlacementOnRealShapes(t *testing.T) {
	sites := []Site{
		siteAt("gw-fi", "noise-duomo", "noise", duomo),
		siteAt("gw-fi", "air-fiesole", "air", fiesole),
		siteAt("gw-ba", "bay", "parking", aldoMoro),
		{Gateway: "gw-ba", Device: "sea", Category: "air", Lon: 17.0, Lat: 41.3, Interval: time.Minute},
		// Site.Area by name overrides the location (Duomo, but declared Fiesole).
		{Gateway: "gw-fi", Device: "declared", Category: "noise", Lon: duomo[0], Lat: duomo[1], Interval: time.Minute, Area: "Fiesole"},
		{Gateway: "gw-fi", Device: "by-id", Category: "noise", Lon: duomo[0], Lat: duomo[1], Interval: time.Minute, Area: "048015"},
		// An area that names nothing of the layer: placed by location.
		{Gateway: "gw-fi", Device: "quartiere", Category: "noise", Lon: duomo[0], Lat: duomo[1], Interval: time.Minute, Area: "Quartiere 1"},
		{Gateway: "gw-fi", Device: "urn", Entity: "urn:ngsi-ld:NoiseLevelObserved:fi-duomo", Category: "noise", Lon: duomo[0], Lat: duomo[1], Interval: time.Minute},
	}
	// The Duomo lies in Firenze (ISTAT 048017); the nearest fixture road is
	// Via dei Calzaiuoli (FI-01), 67 m away (geo's ExampleRoads_Nearest).
	tw, _ := newTwin(t, sites, func(c *Config) { c.RoadMaxMetres = 100 })
	t.Run("beyond the default 50 m", func(t *testing.T) {
		tw50, _ := newTwin(t, sites[:1])
		if e, _ := tw50.Entity("urn:ngsi-ld:NoiseLevelObserved:gw-fi:noise-duomo"); e.Road != "" || e.Area != "048017" {
			t.Errorf("road %q area %q, want no road within 50 m, area 048017", e.Road, e.Area)
		}
	})
	cases := []struct {
		id, area, road, typ string
	}{
		{"urn:ngsi-ld:NoiseLevelObserved:gw-fi:noise-duomo", "048017", "FI-01", "NoiseLevelObserved"},
		{"urn:ngsi-ld:AirQualityObserved:gw-fi:air-fiesole", "048015", "", "AirQualityObserved"},
		{"urn:ngsi-ld:ParkingSpot:gw-ba:bay", "072006", "BA-05", "ParkingSpot"}, // Corso Italia, 51 m
		{"urn:ngsi-ld:AirQualityObserved:gw-ba:sea", "", "", "AirQualityObserved"},
		{"urn:ngsi-ld:NoiseLevelObserved:gw-fi:declared", "048015", "FI-01", "NoiseLevelObserved"},
		{"urn:ngsi-ld:NoiseLevelObserved:gw-fi:by-id", "048015", "FI-01", "NoiseLevelObserved"},
		{"urn:ngsi-ld:NoiseLevelObserved:gw-fi:quartiere", "048017", "FI-01", "NoiseLevelObserved"},
		{"urn:ngsi-ld:NoiseLevelObserved:fi-duomo", "048017", "FI-01", "NoiseLevelObserved"},
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			e, ok := tw.Entity(c.id)
			if !ok {
				t.Fatalf("no entity %s", c.id)
			}
			if e.Area != c.area || e.Road != c.road || e.Type != c.typ || e.Kind != KindSite {
				t.Errorf("area %q road %q type %q kind %q, want %q %q %q site", e.Area, e.Road, e.Type, e.Kind, c.area, c.road, c.typ)
			}
			if e.Freshness != Unknown {
				t.Errorf("freshness %s before any reading, want unknown", e.Freshness)
			}
		})
	}
	t.Run("gateway at centroid", func(t *testing.T) {
		g, ok := tw.Entity("urn:ngsi-ld:Device:gw-ba")
		if !ok {
			t.Fatal("no gateway entity")
		}
		// Centroid of Piazza Aldo Moro and the sea point: ((16.8716+17)/2, (41.1177+41.3)/2).
		p := g.Geometry.Bound().Center()
		if !near(p[0], (16.8716+17.0)/2) || !near(p[1], (41.1177+41.3)/2) || g.Type != "Device" {
			t.Errorf("gateway at %v type %s", p, g.Type)
		}
	})
	t.Run("areas and roads", func(t *testing.T) {
		if got := len(tw.Entities(Filter{Types: []string{"area"}})); got != 82 {
			t.Errorf("%d areas, want the 82 municipalities", got)
		}
		fi, _ := tw.Entity("048017")
		if fi.Name != "Firenze" || fi.Type != "AdministrativeArea" {
			t.Errorf("048017 is %q %s", fi.Name, fi.Type)
		}
		if got := len(tw.Entities(Filter{Types: []string{"RoadSegment"}})); got != len(fixtureRoads(t).Features) {
			t.Errorf("%d roads", got)
		}
	})
}

func TestFreshness(t *testing.T) {
	tw, clk := newTwin(t, []Site{siteAt("gw", "noise", "noise", duomo)})
	id := "urn:ngsi-ld:NoiseLevelObserved:gw:noise"
	area := "048017"
	fresh := func(id string) Freshness { e, _ := tw.Entity(id); return e.Freshness }

	tw.Apply("gw", 1, batch("gw", rd("noise", "LAeq", wire.Float(60), "dB", t0)))
	if fresh(id) != Fresh || fresh(area) != Fresh || fresh("urn:ngsi-ld:Device:gw") != Fresh {
		t.Fatalf("after a reading: site %s area %s gateway %s, want fresh", fresh(id), fresh(area), fresh("urn:ngsi-ld:Device:gw"))
	}
	// Interval 1m, factor 3: fresh up to t0+3m, stale after.
	clk.Set(t0.Add(3 * time.Minute))
	tw.Tick(clk.Now())
	if fresh(id) != Fresh {
		t.Errorf("at 3 intervals: %s, want fresh", fresh(id))
	}
	clk.Set(t0.Add(3*time.Minute + time.Second))
	tw.Tick(clk.Now())
	if fresh(id) != Stale || fresh(area) != Stale {
		t.Errorf("past 3 intervals: site %s area %s, want stale", fresh(id), fresh(area))
	}
	if in := indicator(t, areaIndicators(t, tw, area), IndNoiseLAeqMean); in.Value != nil || in.Sensors != 0 {
		t.Errorf("a stale sensor counts: %v on %d", in.Value, in.Sensors)
	}
	t.Run("bad quality does not refresh", func(t *testing.T) {
		tw.Apply("gw", 2, batch("gw", wire.Reading{Device: "noise", Point: "LAeq", Time: clk.Now(), Quality: wire.QualityBadComm, Reason: "timeout"}))
		e, _ := tw.Entity(id)
		if e.Freshness != Stale || e.Attrs["LAeq"].Value != 60.0 {
			t.Errorf("after a bad reading: %s LAeq %v, want stale 60", e.Freshness, e.Attrs["LAeq"].Value)
		}
	})
	t.Run("good reading refreshes", func(t *testing.T) {
		tw.Apply("gw", 3, batch("gw", rd("noise", "LAeq", wire.Float(64), "dB", clk.Now())))
		if fresh(id) != Fresh {
			t.Errorf("%s, want fresh", fresh(id))
		}
		checkInd(t, indicator(t, areaIndicators(t, tw, area), IndNoiseLAeqMean), 64, 1)
	})
	t.Run("unknown device ignored", func(t *testing.T) {
		before := tw.LastSeq()
		tw.Apply("gw", 4, batch("gw", rd("ghost", "LAeq", wire.Float(90), "dB", clk.Now())))
		tw.Apply("other-gw", 1, batch("other-gw", rd("noise", "LAeq", wire.Float(90), "dB", clk.Now())))
		if tw.LastSeq() != before {
			t.Errorf("unknown devices made changes")
		}
	})
}

func TestGatewayOfflineOnline(t *testing.T) {
	tw, clk := newTwin(t, []Site{siteAt("gw", "a", "noise", duomo), siteAt("gw", "b", "noise", duomo), siteAt("gw2", "c", "noise", duomo)})
	tw.Apply("gw", 1, batch("gw", rd("a", "LAeq", wire.Float(60), "dB", t0), rd("b", "LAeq", wire.Float(60), "dB", t0.Add(-time.Hour))))
	tw.Apply("gw2", 1, batch("gw2", rd("c", "LAeq", wire.Float(60), "dB", t0)))
	get := func(id string) Freshness { e, _ := tw.Entity(id); return e.Freshness }
	a, b, c := "urn:ngsi-ld:NoiseLevelObserved:gw:a", "urn:ngsi-ld:NoiseLevelObserved:gw:b", "urn:ngsi-ld:NoiseLevelObserved:gw2:c"
	if get(a) != Fresh || get(b) != Stale {
		t.Fatalf("a %s b %s, want fresh stale", get(a), get(b))
	}
	ch, unsub := tw.Subscribe(Filter{}, 0)
	defer unsub()
	clk.Set(t0.Add(time.Second))
	tw.SetGatewayState("gw", false, clk.Now())
	if get(a) != Offline || get(b) != Offline || get(c) != Fresh || get("urn:ngsi-ld:Device:gw") != Offline {
		t.Errorf("offline: a %s b %s c %s gw %s", get(a), get(b), get(c), get("urn:ngsi-ld:Device:gw"))
	}
	changed := map[string]Freshness{}
	for _, ch := range drain(ch, 100, 200*time.Millisecond) {
		changed[ch.Entity.ID] = ch.Entity.Freshness
	}
	if changed[a] != Offline || changed[b] != Offline || changed["urn:ngsi-ld:Device:gw"] != Offline {
		t.Errorf("changes sent: %v", changed)
	}
	if _, ok := changed[c]; ok {
		t.Errorf("a site of another gateway changed")
	}
	if in := indicator(t, areaIndicators(t, tw, "048017"), IndNoiseLAeqMean); in.Sensors != 1 {
		t.Errorf("offline sensors count: %d sensors, want 1", in.Sensors)
	}
	tw.SetGatewayState("gw", true, clk.Now())
	if get(a) != Fresh || get(b) != Stale || get("urn:ngsi-ld:Device:gw") != Fresh {
		t.Errorf("online: a %s b %s", get(a), get(b))
	}
	t.Run("only the gateway's online status clears offline", func(t *testing.T) {
		tw.SetGatewayState("gw", false, clk.Now())
		// A batch of the last session, applied after the will (ingest
		// waited for InfluxDB), changes values, not the state.
		clk.Set(clk.Now().Add(time.Second))
		tw.Apply("gw", 3, batch("gw", rd("a", "LAeq", wire.Float(62), "dB", clk.Now())))
		if get(a) != Offline || get("urn:ngsi-ld:Device:gw") != Offline {
			t.Errorf("after a late batch: %s, want offline", get(a))
		}
		if e, _ := tw.Entity(a); e.Attrs["LAeq"].Value != 62.0 {
			t.Errorf("the late batch's value was not kept: %v", e.Attrs["LAeq"])
		}
		tw.SetGatewayState("gw", true, clk.Now())
		if get(a) != Fresh || get("urn:ngsi-ld:Device:gw") != Fresh {
			t.Errorf("after online: %s, want fresh", get(a))
		}
	})
	tw.SetGatewayState("nobody", false, clk.Now()) // ignored
}

func TestReplayDoesNotMoveBackwards(t *testing.T) {
	tw, _ := newTwin(t, []Site{siteAt("gw", "air", "air", duomo)})
	id := "urn:ngsi-ld:AirQualityObserved:gw:air"
	newer := batch("gw", rd("air", "no2", wire.Float(50), "ug/m3", t0))
	older := batch("gw", rd("air", "no2", wire.Float(130), "ug/m3", t0.Add(-time.Minute)))
	tw.Apply("gw", 1, newer)
	tw.Apply("gw", 1, older)
	tw.Apply("gw", 1, newer) // the same batch again changes nothing visible
	e, _ := tw.Entity(id)
	if !e.Updated.Equal(t0) || e.Attrs["no2"].Value != 50.0 || e.Attrs["airQualityIndex"].Value != int64(2) {
		t.Errorf("updated %s no2 %v band %v, want %s 50 2", e.Updated, e.Attrs["no2"].Value, e.Attrs["airQualityIndex"].Value, t0)
	}
	checkInd(t, indicator(t, areaIndicators(t, tw, "048017"), IndAirBandWorst), 2, 1)
}

func TestConfigValidate(t *testing.T) {
	good := siteAt("gw", "d", "noise", duomo)
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"stale factor", Config{StaleFactor: 0.5}, "stale_factor 0.5"},
		{"history", Config{History: -1}, "history -1"},
		{"bad gateway", Config{Sites: []Site{{Gateway: "a/b", Device: "d", Category: "noise", Interval: time.Second}}}, `gateway "a/b" is not a valid gateway ID`},
		{"no device", Config{Sites: []Site{{Gateway: "gw", Category: "noise", Interval: time.Second}}}, "device: required"},
		{"duplicate", Config{Sites: []Site{good, good}}, "same gateway and device as sites[0]"},
		{"category", Config{Sites: []Site{{Gateway: "gw", Device: "d", Category: "radar", Interval: time.Second}}}, `category "radar"`},
		{"location", Config{Sites: []Site{{Gateway: "gw", Device: "d", Category: "noise", Lon: 1200000, Interval: time.Second}}}, "location lon 1.2e+06"},
		{"interval", Config{Sites: []Site{{Gateway: "gw", Device: "d", Category: "noise"}}}, "interval 0s"},
		{"areas layer kind", Config{Roads: metroAreas(t)}, "roads: layer metro holds areas"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.cfg)
			if err == nil || !containsStr(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := New(Config{Sites: []Site{good}, Logger: quietLogger()}); err != nil {
		t.Errorf("a twin without layers: %v", err)
	}
}

func containsStr(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || containsStr(s[1:], sub)))
}
