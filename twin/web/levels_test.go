package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/geo"
	"github.com/ponte-city/ponte/internal/testenv/browser"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/api"
	"github.com/ponte-city/ponte/twin/web"
	"github.com/ponte-city/ponte/wire"
)

// syntheticDistricts is a test-only district layer: two rectangles in
// central Firenze, west and east of 11.2545 E. SYNTHETIC: they are not
// Firenze's quartieri (the city's own file is not available offline);
// they only give the twin a second area level.
const syntheticDistricts = `{"type":"FeatureCollection","features":[
{"type":"Feature","id":"Q-OVEST","properties":{"name":"Quartiere Ovest (sintetico)"},
 "geometry":{"type":"Polygon","coordinates":[[[11.225,43.760],[11.2545,43.760],[11.2545,43.790],[11.225,43.790],[11.225,43.760]]]}},
{"type":"Feature","id":"Q-EST","properties":{"name":"Quartiere Est (sintetico)"},
 "geometry":{"type":"Polygon","coordinates":[[[11.2545,43.760],[11.285,43.760],[11.285,43.790],[11.2545,43.790],[11.2545,43.760]]]}}]}`

// serveLevels starts the real twin with two area levels (the 41
// municipalities of Firenze's metropolitan area and the synthetic
// districts), two noise sensors, one per district, the real API and the
// pages.
func serveLevels(t *testing.T) string {
	t.Helper()
	munis, err := geo.LoadLayer("../../geo/data/firenze-metro-municipalities.geojson", geo.KindAreas, geo.LoadOptions{IDProperty: "com_istat_code"})
	if err != nil {
		t.Fatal(err)
	}
	districts, err := geo.ParseLayer("synthetic-districts.geojson", []byte(syntheticDistricts), geo.KindAreas, geo.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tw, err := twin.New(twin.Config{Areas: munis, AreaLevels: []twin.AreaLayer{{Level: twin.LevelDistrict, Layer: districts}},
		Logger: slog.New(slog.DiscardHandler), Sites: []twin.Site{
			{Gateway: "gw-fi", Device: "nm-ovest", Category: wire.CategoryNoise, Lon: 11.2450, Lat: 43.7750, Interval: time.Minute},
			{Gateway: "gw-fi", Device: "nm-est", Category: wire.CategoryNoise, Lon: 11.2650, Lat: 43.7720, Interval: time.Minute},
		}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	tw.Apply("gw-fi", 1, &wire.Batch{Gateway: "gw-fi", Epoch: 1, Seqs: []uint64{1, 2}, Readings: []wire.Reading{
		{Device: "nm-ovest", Point: "LAeq", Value: wire.Float(58), Unit: "dB", Time: now, Quality: wire.QualityGood},
		{Device: "nm-est", Point: "LAeq", Value: wire.Float(67), Unit: "dB", Time: now, Quality: wire.QualityGood},
	}})
	a, err := api.New(api.Config{Reader: tw, Tokens: []string{testToken}, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", a.Handler())
	mux.Handle("/", web.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// pickerJS reads a level picker: whether it is shown, its options' labels
// and the chosen value.
const pickerJS = `(() => { const s = document.getElementById('level'); const box = s.closest('.level-picker');
  return { shown: !box.hidden && box.getClientRects().length > 0, labels: [...s.options].map(o => o.textContent), value: s.value }; })()`

type picker struct {
	Shown  bool
	Labels []string
	Value  string
}

func readPicker(ctx context.Context, t *testing.T, p *browser.Page) picker {
	t.Helper()
	var pk picker
	if err := p.Eval(ctx, pickerJS, &pk); err != nil {
		t.Fatal(err)
	}
	return pk
}

// choose picks a level in the page's picker as a reader does.
func choose(ctx context.Context, t *testing.T, p *browser.Page, level string) {
	t.Helper()
	if err := p.Eval(ctx, `(() => { const s = document.getElementById('level'); s.value = '`+level+`'; s.dispatchEvent(new Event('change')); return true; })()`, nil); err != nil {
		t.Fatal(err)
	}
}

// TestLevelPicker: with municipalities and districts configured, the
// citizens' page and the operators' map offer both levels (Italian
// labels, English with ?lang=en), open on the municipalities, show the
// districts' cards, shapes and colours when picked, keep the choice in
// the URL, and an embed with ?level= shows that level without a picker.
func TestLevelPicker(t *testing.T) {
	needBuilt(t)
	base := serveLevels(t)
	dir := browser.Artifacts(t)
	b := browser.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("citizens' page", func(t *testing.T) {
		p := page(ctx, t, b, base+"/indicators/", "it-IT,it;q=0.9")
		if pk := readPicker(ctx, t, p); !pk.Shown || strings.Join(pk.Labels, "|") != "Comuni|Quartieri/Municipi" || pk.Value != "municipality" {
			t.Fatalf("picker %+v, want Comuni and Quartieri/Municipi shown, Comuni chosen", pk)
		}
		if cards := read(ctx, t, p).Cards; strings.Join(cards, ",") != firenze {
			t.Errorf("municipality cards %v, want Firenze only", cards)
		}
		choose(ctx, t, p, "district")
		waitPage(ctx, t, p, "the district cards", `document.querySelectorAll('article.area-card').length === 2 && !!document.querySelector('article.area-card[data-id="Q-EST"]')`)
		if u := evalStr(ctx, t, p, `location.search`); !strings.Contains(u, "level=district") {
			t.Errorf("URL %q, want level=district kept", u)
		}
		waitPage(ctx, t, p, "the districts' shapes", `document.querySelectorAll('#choropleth-map path').length === 2`)
		if ids := evalStr(ctx, t, p, `[...document.querySelectorAll('#choropleth-map path')].map(e => e.dataset.id).sort().join(',')`); ids != "Q-EST,Q-OVEST" {
			t.Errorf("choropleth regions %q, want the two districts", ids)
		}
		// The two districts have different noise levels: different colours.
		if fills := evalStr(ctx, t, p, `[...new Set([...document.querySelectorAll('#choropleth-map path')].map(e => e.getAttribute('fill')))].length + ''`); fills != "2" {
			t.Errorf("%s colours for two districts of different values, want 2", fills)
		}
		browser.Shot(ctx, t, p, dir, "indicators-level-district.png")
	})

	t.Run("citizens' page in English, level from the URL", func(t *testing.T) {
		p := page(ctx, t, b, base+"/indicators/?lang=en&level=district", "")
		if pk := readPicker(ctx, t, p); !pk.Shown || strings.Join(pk.Labels, "|") != "Municipalities|Districts" || pk.Value != "district" {
			t.Errorf("picker %+v, want Municipalities and Districts, Districts chosen", pk)
		}
		if label := evalStr(ctx, t, p, `document.getElementById('level-label').textContent`); label != "Level" {
			t.Errorf("picker label %q", label)
		}
	})

	t.Run("embed fixes the level", func(t *testing.T) {
		p := page(ctx, t, b, base+"/indicators/?embed=1&level=district", "")
		if pk := readPicker(ctx, t, p); pk.Shown || pk.Value != "district" {
			t.Errorf("embed picker %+v, want hidden on the districts", pk)
		}
		if cards := read(ctx, t, p).Cards; len(cards) != 2 {
			t.Errorf("embed cards %v, want the two districts", cards)
		}
	})

	t.Run("operators' map", func(t *testing.T) {
		p := b.NewPage(ctx)
		t.Cleanup(p.DrainLog)
		if err := p.Navigate(ctx, base+"/map/#token="+testToken); err != nil {
			t.Fatal(err)
		}
		waitPage(ctx, t, p, "the map", `window.ponteMap && window.ponteMap.map.loaded() && document.getElementById('level').options.length > 0`)
		if err := p.Eval(ctx, "window.ponteMap.ready", nil); err != nil {
			t.Fatal(err)
		}
		if pk := readPicker(ctx, t, p); !pk.Shown || strings.Join(pk.Labels, "|") != "Comuni|Quartieri/Municipi" || pk.Value != "municipality" {
			t.Fatalf("map picker %+v", pk)
		}
		const drawnAreas = `(async () => { const m = window.ponteMap.map; m.jumpTo({center: [11.255, 43.775], zoom: 12.5});
  await new Promise(r => m.once('idle', r));
  return [...new Set(m.queryRenderedFeatures({layers: ['areas-fill']}).map(f => f.properties._id))].sort().join(','); })()`
		if got := evalStr(ctx, t, p, drawnAreas); !strings.Contains(got, firenze) || strings.Contains(got, "Q-") {
			t.Errorf("municipality level draws %q, want Firenze and no district", got)
		}
		choose(ctx, t, p, "district")
		if err := p.Eval(ctx, `(() => { const s = document.getElementById('indicator'); s.value = 'noise_laeq_mean'; s.dispatchEvent(new Event('change')); return true; })()`, nil); err != nil {
			t.Fatal(err)
		}
		if got := evalStr(ctx, t, p, drawnAreas); got != "Q-EST,Q-OVEST" {
			t.Errorf("district level draws %q, want the two districts", got)
		}
		if east, west := evalStr(ctx, t, p, `window.ponteMap.featureColor('Q-EST')`), evalStr(ctx, t, p, `window.ponteMap.featureColor('Q-OVEST')`); east == west {
			t.Errorf("both districts painted %s, want the ramp to tell 58 from 67 dB", east)
		}
		if u := evalStr(ctx, t, p, `location.search`); !strings.Contains(u, "level=district") {
			t.Errorf("map URL %q, want level=district", u)
		}
		if title := evalStr(ctx, t, p, `document.getElementById('legend-areas-title').textContent`); !strings.HasPrefix(title, "Quartieri/Municipi") {
			t.Errorf("legend title %q", title)
		}
		browser.Shot(ctx, t, p, dir, "map-level-district.png")
	})
}
