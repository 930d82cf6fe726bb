package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/internal/testenv/browser"
)

// outsideTiles is a real tile server outside the machine, as a city would
// configure twin.tile_url; the test blocks it.
const outsideTiles = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

// TestMapOffline: in a control room without internet, with a tile_url
// configured whose server cannot be reached, the map still draws its own
// base (the municipal shapes, the roads Ponte knows, the area and road
// labels) from the twin's data, and every request to the outside host
// was blocked, none answered.
func TestMapOffline(t *testing.T) {
	needBuilt(t)
	fa := newFakeAPI(t, 8)
	var blocked *browser.Blocked
	q := url.Values{"tiles": {outsideTiles}, "tilesAttribution": {"© OpenStreetMap contributors"}}
	ctx, p, dir := openMapWith(t, fa, q.Encode(), func(ctx context.Context, p *browser.Page) {
		var err error
		if blocked, err = p.BlockOutside(ctx); err != nil {
			t.Fatal(err)
		}
	})
	// Street zoom over central Firenze: areas, roads and their labels.
	if err := p.Eval(ctx, `(async () => { const m = window.ponteMap.map; m.jumpTo({center: [11.2545, 43.7735], zoom: 14});
  await new Promise(r => m.once('idle', r)); return true; })()`, nil); err != nil {
		t.Fatal(err)
	}
	waitPage(ctx, t, p, "the tile requests", `window.ponteMap.map.isSourceLoaded('base') || true`)
	rendered := func(layer string) int {
		var n int
		if err := p.Eval(ctx, `window.ponteMap.map.queryRenderedFeatures({layers: ['`+layer+`']}).length`, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, layer := range []string{"areas-fill", "areas-line", "roads", "roads-casing"} {
		if n := rendered(layer); n == 0 {
			t.Errorf("layer %s: no feature rendered without the tile server", layer)
		}
	}
	areaLabels := evalStr(ctx, t, p, `[...document.querySelectorAll('.labels .label.area')].map(e => e.textContent).join('|')`)
	if !strings.Contains(areaLabels, "Firenze") {
		t.Errorf("area labels %q, want Firenze", areaLabels)
	}
	roadLabels := evalStr(ctx, t, p, `[...document.querySelectorAll('.labels .label.road')].map(e => e.textContent).join('|')`)
	if !strings.Contains(roadLabels, "Via") {
		t.Errorf("road labels %q, want the roads' names", roadLabels)
	}
	var tileBlocked bool
	for _, u := range blocked.URLs() {
		if strings.HasPrefix(u, "https://tile.openstreetmap.org/") {
			tileBlocked = true
		} else {
			t.Logf("also blocked: %s", u)
		}
	}
	if !tileBlocked {
		t.Errorf("no request to the tile server was blocked (blocked: %v): was the tile_url used at all?", blocked.URLs())
	}
	browser.Shot(ctx, t, p, dir, "map-offline-base.png")
}
