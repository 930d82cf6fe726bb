package twin

import (
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/geo"
	"github.com/ponte-city/ponte/wire"
)

// districtFixture is a one-area district layer in EPSG:3003: the ISTAT
// polygon of the municipality of Firenze converted with PROJ (see
// geo/testdata/README.md). It is a test fixture standing in for a
// quartiere, not a real district boundary.
func districtFixture(t testing.TB) *geo.Layer {
	t.Helper()
	l, err := geo.LoadLayer("../geo/testdata/firenze-epsg3003.geojson", geo.KindAreas, geo.LoadOptions{IDProperty: "id"})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestTwoLevels: with municipalities and districts, a site inside a
// district counts in the district and in its municipality, each level's
// indicators are computed, and the site's area stays its municipality.
func TestTwoLevels(t *testing.T) {
	sites := []Site{
		siteAt("gw-fi", "noise-a", "noise", duomo),   // Firenze, in the district
		siteAt("gw-fi", "noise-b", "noise", fiesole), // Fiesole, in no district
	}
	tw, _ := newTwin(t, sites, func(c *Config) {
		c.AreaLevels = []AreaLayer{{Level: LevelDistrict, Layer: districtFixture(t)}}
	})
	at := t0.Add(-10 * time.Second)
	tw.Apply("gw-fi", 1, batch("gw-fi",
		rd("noise-a", "LAeq", wire.Float(60), "dB", at),
		rd("noise-b", "LAeq", wire.Float(70), "dB", at),
	))
	ind := tw.Indicators()
	levels := map[string]string{}
	for _, a := range ind.Areas {
		levels[a.ID] = a.Level
	}
	if levels["048017"] != LevelMunicipality || levels["fixture-firenze"] != LevelDistrict {
		t.Fatalf("levels: 048017 %q, fixture-firenze %q", levels["048017"], levels["fixture-firenze"])
	}
	if ind.Areas[len(ind.Areas)-1].ID != "fixture-firenze" {
		t.Errorf("the district level should come after the municipalities (coarsest first), last is %s", ind.Areas[len(ind.Areas)-1].ID)
	}
	checkInd(t, indicator(t, areaIndicators(t, tw, "fixture-firenze"), IndNoiseLAeqMean), 60, 1)
	checkInd(t, indicator(t, areaIndicators(t, tw, "048017"), IndNoiseLAeqMean), 60, 1)
	checkInd(t, indicator(t, areaIndicators(t, tw, "048015"), IndNoiseLAeqMean), 70, 1)
	checkInd(t, indicator(t, ind.City, IndNoiseLAeqMean), 67.40, 2)

	e, ok := tw.Entity(siteEntityID(t, tw, "noise-a"))
	if !ok || e.Area != "048017" {
		t.Errorf("site area %q, want its municipality 048017", e.Area)
	}
	d, _ := tw.Entity("fixture-firenze")
	if d.Freshness != Fresh || d.Attrs["level"].Value != LevelDistrict {
		t.Errorf("district entity: freshness %s, level %v", d.Freshness, d.Attrs["level"].Value)
	}

	// Leaving (the gateway's sites replaced) takes the site out of both.
	if err := tw.SetGatewaySites("gw-fi", []Site{siteAt("gw-fi", "noise-b", "noise", fiesole)}); err != nil {
		t.Fatal(err)
	}
	if in := indicator(t, areaIndicators(t, tw, "fixture-firenze"), IndNoiseLAeqMean); in.Sensors != 0 {
		t.Errorf("district still counts %d sensors", in.Sensors)
	}
	if in := indicator(t, areaIndicators(t, tw, "048017"), IndNoiseLAeqMean); in.Sensors != 0 {
		t.Errorf("municipality still counts %d sensors", in.Sensors)
	}
}

// siteEntityID finds a site's entity ID by device.
func siteEntityID(t testing.TB, tw *Twin, device string) string {
	t.Helper()
	for _, e := range tw.Entities(Filter{}) {
		if e.Kind == KindSite && e.Device == device {
			return e.ID
		}
	}
	t.Fatalf("no site %s", device)
	return ""
}

func TestLevelConfigErrors(t *testing.T) {
	d := districtFixture(t)
	for _, tc := range []struct {
		levels []AreaLayer
		want   string
	}{
		{[]AreaLayer{{Level: "quartiere", Layer: d}}, `area_levels[0]: level "quartiere": expected one of city, municipality, district`},
		{[]AreaLayer{{Level: LevelMunicipality, Layer: d}}, `area_levels[0]: level "municipality" given twice`},
		{[]AreaLayer{{Level: LevelDistrict}}, `area_levels[0]: layer: required`},
	} {
		_, err := New(Config{Areas: metroAreas(t), AreaLevels: tc.levels, Logger: quietLogger()})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}
