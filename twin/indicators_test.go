package twin

import (
	"math"
	"testing"
	"time"

	"github.com/ponte-city/ponte/wire"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func checkInd(t *testing.T, in Indicator, want float64, sensors int) {
	t.Helper()
	if in.Sensors != sensors {
		t.Errorf("%s: sensors %d, want %d", in.Name, in.Sensors, sensors)
	}
	if in.Value == nil {
		t.Fatalf("%s: nil value, want %v", in.Name, want)
	}
	if math.Abs(*in.Value-want) > 0.05 {
		t.Errorf("%s: %v, want %v", in.Name, *in.Value, want)
	}
}

func TestIndicatorsHandWorked(t *testing.T) {
	sites := []Site{
		siteAt("gw-fi", "loops-a", "traffic", duomo),
		siteAt("gw-fi", "loops-b", "traffic", lavagnini),
		siteAt("gw-fi", "air", "air", duomo),
		siteAt("gw-fi", "noise-a", "noise", duomo),
		siteAt("gw-fi", "noise-b", "noise", lavagnini),
		siteAt("gw-ba", "bay1", "parking", aldoMoro),
		siteAt("gw-ba", "bay2", "parking", aldoMoro),
		siteAt("gw-ba", "bay3", "parking", aldoMoro),
		siteAt("gw-ba", "bay4", "parking", aldoMoro),
		siteAt("gw-ba", "cab", "energy", cavourBari),
		siteAt("gw-ba", "air", "air", cavourBari),
	}
	tw, _ := newTwin(t, sites)
	at := t0.Add(-10 * time.Second)
	tw.Apply("gw-fi", 1, batch("gw-fi",
		// Site a: lanes of 4 and 6 vehicles per minute = (4+6)*60 = 600 veh/h.
		rd("loops-a", "lane1_intensity", wire.Int(4), "1/min", at),
		rd("loops-a", "lane2_intensity", wire.Int(6), "1/min", at),
		// Occupancy (10+20)/2 = 15 % < 30 %, speed (50+40)/2 = 45 km/h: not congested.
		rd("loops-a", "lane1_occupancy", wire.Float(10), "%", at),
		rd("loops-a", "lane2_occupancy", wire.Float(20), "%", at),
		rd("loops-a", "lane1_speed", wire.Float(50), "km/h", at),
		rd("loops-a", "lane2_speed", wire.Float(40), "km/h", at),
		// Site b: 15 vehicles/min on one lane = 900 veh/h; occupancy 35 % >= 30 %: congested.
		rd("loops-b", "lane1_intensity", wire.Int(15), "1/min", at),
		rd("loops-b", "lane1_occupancy", wire.Float(35), "%", at),
		// NO2 95 ug/m3 lies in 90-120: band 3 moderate; PM10 30 lies in 20-40: band 2. Worst: 3.
		rd("air", "no2", wire.Float(95), "ug/m3", at),
		rd("air", "pm10", wire.Float(30), "ug/m3", at),
		// LAeq 60 and 70 dB: 10*log10((10^6 + 10^7)/2) = 10*log10(5.5e6) = 67.40 dB.
		rd("noise-a", "LAeq", wire.Float(60), "dB", at),
		rd("noise-b", "LAeq", wire.Float(70), "dB", at),
	))
	tw.Apply("gw-ba", 1, batch("gw-ba",
		// 3 of 4 bays occupied = 0.75.
		rd("bay1", "occupied", wire.Bool(true), "", at),
		rd("bay2", "occupied", wire.Bool(true), "", at),
		rd("bay3", "occupied", wire.Bool(false), "", at),
		rd("bay4", "occupied", wire.Bool(true), "", at),
		// Counter 1000.0 -> 1002.5 -> 1001.0 (replaced meter) -> 1003.0:
		// increases 2.5 + 2.0 = 4.5 kWh over the window; power 3200 W.
		rd("cab", "import_energy", wire.Float(1000), "kWh", at.Add(-3*time.Minute)),
		rd("cab", "import_energy", wire.Float(1002.5), "kWh", at.Add(-2*time.Minute)),
		rd("cab", "import_energy", wire.Float(1001), "kWh", at.Add(-time.Minute)),
		rd("cab", "import_energy", wire.Float(1003), "kWh", at),
		rd("cab", "total_power", wire.Float(3200), "W", at),
		// O3 250 ug/m3 lies above 240: band 5 very poor.
		rd("air", "o3", wire.Float(250), "ug/m3", at),
	))

	t.Run("firenze", func(t *testing.T) {
		fi := areaIndicators(t, tw, "048017")
		checkInd(t, indicator(t, fi, IndTrafficIntensity), 1500, 2) // 600 + 900
		checkInd(t, indicator(t, fi, IndCongestionShare), 0.5, 2)   // 1 of 2 congested
		checkInd(t, indicator(t, fi, IndAirBandWorst), 3, 1)
		checkInd(t, indicator(t, fi, IndAirBandMean), 3, 1)
		checkInd(t, indicator(t, fi, IndNoiseLAeqMean), 67.40, 2)
		if in := indicator(t, fi, IndParkingOccupancy); in.Value != nil || in.Sensors != 0 {
			t.Errorf("parking in Firenze: %v on %d sensors, want none", in.Value, in.Sensors)
		}
	})
	t.Run("bari", func(t *testing.T) {
		ba := areaIndicators(t, tw, "072006")
		checkInd(t, indicator(t, ba, IndParkingOccupancy), 0.75, 4)
		checkInd(t, indicator(t, ba, IndLightingPower), 3200, 1)
		checkInd(t, indicator(t, ba, IndLightingEnergy), 4.5, 1)
		checkInd(t, indicator(t, ba, IndAirBandWorst), 5, 1)
		if w := indicator(t, ba, IndLightingEnergy).Window; w != "15m" {
			t.Errorf("lighting_energy window %q, want 15m", w)
		}
	})
	t.Run("city", func(t *testing.T) {
		city := tw.Indicators().City
		// Bands 3 (Firenze) and 5 (Bari): worst 5, mean (3+5)/2 = 4.
		checkInd(t, indicator(t, city, IndAirBandWorst), 5, 2)
		checkInd(t, indicator(t, city, IndAirBandMean), 4, 2)
		checkInd(t, indicator(t, city, IndTrafficIntensity), 1500, 2)
	})
	t.Run("road congested", func(t *testing.T) {
		// loops-b at Viale Lavagnini lies on FI-04 and is congested.
		e, ok := tw.Entity("FI-04")
		if !ok {
			t.Fatal("no FI-04")
		}
		if e.Attrs["congested"].Value != true {
			t.Errorf("FI-04 congested = %v, want true", e.Attrs["congested"].Value)
		}
	})
	t.Run("road of an offline gateway", func(t *testing.T) {
		// With its only traffic site offline, FI-04's congestion is
		// unknown: no attribute, rather than a stale claim.
		tw.SetGatewayState("gw-fi", false, t0)
		e, _ := tw.Entity("FI-04")
		if _, ok := e.Attrs["congested"]; ok || e.Freshness == Fresh {
			t.Errorf("FI-04 %s with attrs %v, want no congestion claim", e.Freshness, e.Attrs)
		}
		tw.SetGatewayState("gw-fi", true, t0)
		if e, _ := tw.Entity("FI-04"); e.Attrs["congested"].Value != true {
			t.Errorf("FI-04 back online: congested = %v, want true", e.Attrs["congested"].Value)
		}
	})
	t.Run("update replaces contribution", func(t *testing.T) {
		// Site a drops to 2+3 = 5/min = 300 veh/h: Firenze 300 + 900 = 1200.
		at2 := at.Add(time.Second)
		tw.Apply("gw-fi", 2, batch("gw-fi",
			rd("loops-a", "lane1_intensity", wire.Int(2), "1/min", at2),
			rd("loops-a", "lane2_intensity", wire.Int(3), "1/min", at2)))
		checkInd(t, indicator(t, areaIndicators(t, tw, "048017"), IndTrafficIntensity), 1200, 2)
	})
}

func TestEAQIBand(t *testing.T) {
	cases := []struct {
		pollutant string
		v         float64
		band      int
		level     string
	}{
		{"no2", 95, 3, "moderate"}, // 90 < 95 <= 120
		{"no2", 40, 1, "good"},     // on the limit: lower band
		{"no2", 40.1, 2, "fair"},
		{"o3", 250, 5, "very poor"},       // 240 < 250 <= 380
		{"pm25", 80, 6, "extremely poor"}, // above 75
		{"pm10", 0, 1, "good"},
		{"so2", 360, 4, "poor"},
	}
	for _, c := range cases {
		t.Run(c.pollutant, func(t *testing.T) {
			b, ok := EAQIBand(c.pollutant, c.v)
			if !ok || b != c.band || EAQILevel(b) != c.level {
				t.Errorf("EAQIBand(%s, %v) = %d %v (%s), want %d %s", c.pollutant, c.v, b, ok, EAQILevel(b), c.band, c.level)
			}
		})
	}
	for _, bad := range []struct {
		p string
		v float64
	}{{"co", 1}, {"no2", -1}, {"no2", math.NaN()}, {"no2", math.Inf(1)}} {
		if _, ok := EAQIBand(bad.p, bad.v); ok {
			t.Errorf("EAQIBand(%s, %v) ok, want refused", bad.p, bad.v)
		}
	}
}

func TestMappingAttributes(t *testing.T) {
	at := t0
	cases := []struct {
		name     string
		category wire.Category
		interval time.Duration
		pts      map[string]point
		want     map[string]any
	}{
		{"traffic count per interval", "traffic", 30 * time.Second, map[string]point{
			// 10 vehicles in 30 s = 10*3600/30 = 1200 veh/h; speed 10 km/h < 15 with vehicles: congested.
			"lane1_intensity": {wire.Int(10), "1", at}, "lane1_speed": {wire.Float(10), "km/h", at}},
			map[string]any{"intensity": 1200.0, "averageVehicleSpeed": 10.0, "congested": true}},
		{"traffic empty road at night", "traffic", time.Minute, map[string]point{
			"lane1_intensity": {wire.Int(0), "1/min", at}, "lane1_speed": {wire.Float(0), "km/h", at}},
			map[string]any{"intensity": 0.0, "congested": false}},
		{"weather", "weather", time.Minute, map[string]point{
			"humidity": {wire.Float(80), "%", at}, "wind_speed": {wire.Float(3), "m/s", at}, "pressure": {wire.Float(1010), "hPa", at}},
			map[string]any{"relativeHumidity": 0.8, "windSpeed": 3.0, "atmosphericPressure": 1010.0}},
		{"parking", "parking", time.Hour, map[string]point{"occupied": {wire.Bool(false), "", at}, "battery": {wire.Float(87), "%", at}},
			map[string]any{"occupancy": 0.0, "status": "free", "battery": 87.0}},
		{"energy", "energy", time.Second, map[string]point{"total_power": {wire.Float(500), "W", at}, "import_energy": {wire.Float(7), "kWh", at}},
			map[string]any{"power": 500.0, "energy": 7.0}},
		{"signal keeps names", "signal", time.Second, map[string]point{"plan": {wire.Int(2), "1", at}},
			map[string]any{"plan": int64(2)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := deriveAttrs(c.category, c.interval, c.pts)
			for k, v := range c.want {
				a, ok := got[k]
				if !ok {
					t.Errorf("no %s in %v", k, got)
					continue
				}
				if f, isF := v.(float64); isF {
					if g, _ := ToFloat(a.Value); !near(g, f) {
						t.Errorf("%s = %v, want %v", k, a.Value, v)
					}
				} else if a.Value != v {
					t.Errorf("%s = %v (%T), want %v (%T)", k, a.Value, a.Value, v, v)
				}
			}
		})
	}
}

func TestFormatWindow(t *testing.T) {
	for d, want := range map[time.Duration]string{15 * time.Minute: "15m", time.Hour: "1h", 90 * time.Minute: "1h30m", 30 * time.Second: "30s"} {
		if got := formatWindow(d); got != want {
			t.Errorf("formatWindow(%s) = %q, want %q", d, got, want)
		}
	}
}
