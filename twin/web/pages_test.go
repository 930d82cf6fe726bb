package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/internal/testenv/browser"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/web"
)

// The colours the map documents (README.md) for sites' freshness.
const (
	colorFresh   = "#009e73"
	colorOffline = "#595959"
	// Roads by congestion.
	colorFlowing   = "#0072b2"
	colorCongested = "#d55e00"
)

// needBuilt marks t as a browser test (skipped under -short) and fails it
// when dist/ was not built.
func needBuilt(t testing.TB) {
	t.Helper()
	testenv.Integration(t, "the built pages and Chromium")
	for _, f := range []string{"dist/map/index.html", "dist/map/app.js", "dist/indicators/index.html", "dist/indicators/app.js"} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("the pages are not built (%v): run make web (cd twin/web && npm ci && npm run build)", err)
		}
	}
}

// serve starts the pages and the fake API on a loopback port.
func serve(t testing.TB, api *fakeAPI) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", api)
	mux.Handle("/", web.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(api.done) }) // runs first: ends the streams
	return srv
}

// openMap serves api, opens the map in a new headless Chromium and waits
// until it drew the entities and opened the stream. It returns the page,
// a context that ends with the test and the screenshots' directory.
func openMap(t *testing.T, api *fakeAPI) (context.Context, *browser.Page, string) {
	t.Helper()
	return openMapWith(t, api, "", nil)
}

// openMapWith is openMap with a query string for the map's URL ("lang=en",
// "tiles=..."), and before, if not nil, run on the new tab before it
// navigates (to block the network, say).
func openMapWith(t *testing.T, api *fakeAPI, query string, before func(context.Context, *browser.Page)) (context.Context, *browser.Page, string) {
	t.Helper()
	srv := serve(t, api)
	dir := browser.Artifacts(t)
	b := browser.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	p := b.NewPage(ctx)
	t.Cleanup(p.DrainLog)
	if before != nil {
		before(ctx, p)
	}
	if query != "" {
		query = "?" + query
	}
	if err := p.Navigate(ctx, srv.URL+"/map/"+query+"#token="+testToken); err != nil {
		t.Fatal(err)
	}
	var waited float64
	if err := p.Eval(ctx, browser.WaitJS("window.ponteMap", 20000), &waited); err != nil || waited < 0 {
		p.DrainLog()
		t.Fatalf("window.ponteMap never appeared (waited %v): %v", waited, err)
	}
	if err := p.Eval(ctx, "window.ponteMap.ready", nil); err != nil {
		p.DrainLog()
		browser.Shot(ctx, t, p, dir, "map-failed.png")
		t.Fatalf("map not ready: %v", err)
	}
	select {
	case <-api.connected:
	case <-time.After(15 * time.Second):
		t.Fatal("the map never opened the SSE stream")
	}
	return ctx, p, dir
}

func TestMapLive(t *testing.T) {
	needBuilt(t)
	api := newFakeAPI(t, 20)
	ctx, p, dir := openMap(t, api)

	t.Run("feature counts", func(t *testing.T) {
		for kind, want := range map[string]int{"site": len(api.sites), "road": len(api.roads), "area": len(api.areas)} {
			var got int
			if err := p.Eval(ctx, fmt.Sprintf("window.ponteMap.featureCount(%q)", kind), &got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("featureCount(%q) = %d, want %d", kind, got, want)
			}
		}
	})
	t.Run("token leaves the address bar", func(t *testing.T) {
		var hash string
		if err := p.Eval(ctx, "location.hash", &hash); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(hash, testToken) {
			t.Errorf("location.hash still holds the token: %q", hash)
		}
	})
	t.Run("attribution", func(t *testing.T) {
		var text string
		if err := p.Eval(ctx, "document.querySelector('.maplibregl-ctrl-attrib').textContent", &text); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, "ISTAT, CC BY 4.0") {
			t.Errorf("attribution control shows %q, want the ISTAT attribution", text)
		}
	})
	browser.Shot(ctx, t, p, dir, "map-loaded.png")

	t.Run("site goes offline", func(t *testing.T) {
		site := api.sites[0]
		var before string
		if err := p.Eval(ctx, fmt.Sprintf("window.ponteMap.featureColor(%q)", site.ID), &before); err != nil {
			t.Fatal(err)
		}
		if before != colorFresh {
			t.Fatalf("site %s painted %q before the change, want fresh %s", site.ID, before, colorFresh)
		}
		site.Freshness = twin.Offline
		if n := api.sendEntity(site); n == 0 {
			t.Fatal("no stream client to send the change to")
		}
		var ms float64
		cond := fmt.Sprintf("window.ponteMap.featureColor(%q) === %q", site.ID, colorOffline)
		if err := p.Eval(ctx, browser.WaitJS(cond, 3000), &ms); err != nil {
			t.Fatal(err)
		}
		if ms < 0 {
			var now string
			_ = p.Eval(ctx, fmt.Sprintf("window.ponteMap.featureColor(%q)", site.ID), &now)
			t.Fatalf("site %s still painted %q 3 s after it went offline, want %s", site.ID, now, colorOffline)
		}
		// How fast is BenchmarkMapChange's figure (web_map_change).
		// The other sites keep their colour.
		var other string
		if err := p.Eval(ctx, fmt.Sprintf("window.ponteMap.featureColor(%q)", api.sites[1].ID), &other); err != nil {
			t.Fatal(err)
		}
		if other != colorFresh {
			t.Errorf("untouched site %s painted %q, want %s", api.sites[1].ID, other, colorFresh)
		}
	})

	t.Run("indicators recolour areas", func(t *testing.T) {
		area := api.areas[0].ID
		var before string
		if err := p.Eval(ctx, fmt.Sprintf("window.ponteMap.featureColor(%q)", area), &before); err != nil {
			t.Fatal(err)
		}
		// Make the lowest area the highest: its class, hence its colour, changes.
		v := 1e6
		api.indicators.Areas[0].Indicators[0].Value = &v
		api.sendIndicators()
		var ms float64
		cond := fmt.Sprintf("window.ponteMap.featureColor(%q) !== %q", area, before)
		if err := p.Eval(ctx, browser.WaitJS(cond, 3000), &ms); err != nil {
			t.Fatal(err)
		}
		if ms < 0 {
			t.Fatalf("area %s still painted %q after its indicator changed", area, before)
		}
		// The event had the values only: the page keeps each
		// indicator's unit and definition from the full indicators.
		want := api.indicators.Areas[0].Indicators[0]
		var got struct{ Unit, Definition string }
		js := fmt.Sprintf(`(() => { const i = window.ponteMap.store.indicators.areas.find((a) => a.id === %q).indicators.find((i) => i.name === %q);
			return { unit: window.ponteMap.store.indicatorUnit(i.name), definition: i.definition }; })()`, area, want.Name)
		if err := p.Eval(ctx, js, &got); err != nil {
			t.Fatal(err)
		}
		if got.Unit != want.Unit || got.Definition != want.Definition {
			t.Errorf("after a values-only indicators event the page holds unit %q, definition %q; want %q, %q", got.Unit, got.Definition, want.Unit, want.Definition)
		}
	})

	t.Run("road becomes congested", func(t *testing.T) {
		var road twin.Entity
		for _, r := range api.roads {
			if r.Attrs["congested"].Value == false {
				road = r
				break
			}
		}
		var before string
		if err := p.Eval(ctx, fmt.Sprintf("window.ponteMap.featureColor(%q)", road.ID), &before); err != nil {
			t.Fatal(err)
		}
		if before != colorFlowing {
			t.Fatalf("road %s painted %q while flowing, want %s", road.ID, before, colorFlowing)
		}
		road.Attrs = map[string]twin.Attr{"congested": {Value: true, ObservedAt: time.Now()}}
		api.sendEntity(road)
		var ms float64
		if err := p.Eval(ctx, browser.WaitJS(fmt.Sprintf("window.ponteMap.featureColor(%q) === %q", road.ID, colorCongested), 3000), &ms); err != nil {
			t.Fatal(err)
		}
		if ms < 0 {
			t.Fatalf("road %s not painted congested %s after the change", road.ID, colorCongested)
		}
	})

	t.Run("resync reloads", func(t *testing.T) {
		extra := api.sites[0]
		extra.ID += "-new"
		extra.Freshness = twin.Fresh
		api.sites = append(api.sites, extra)
		api.sendResync()
		var ms float64
		cond := fmt.Sprintf("window.ponteMap.featureCount('site') === %d && window.ponteMap.featureColor(%q) === %q", len(api.sites), extra.ID, colorFresh)
		if err := p.Eval(ctx, browser.WaitJS(cond, 5000), &ms); err != nil {
			t.Fatal(err)
		}
		if ms < 0 {
			var n int
			_ = p.Eval(ctx, "window.ponteMap.featureCount('site')", &n)
			t.Fatalf("after resync the map holds %d sites, want %d including %s", n, len(api.sites), extra.ID)
		}
	})

	t.Run("popup with sparkline", func(t *testing.T) {
		site := api.sites[1]
		pt := site.Geometry.Bound().Center()
		click := fmt.Sprintf(`(() => { const m = window.ponteMap.map; const ll = [%f, %f];
  m.fire('click', { point: m.project(ll), lngLat: new (m.getCenter().constructor)(ll[0], ll[1]) }); return true; })()`, pt[0], pt[1])
		if err := p.Eval(ctx, click, nil); err != nil {
			t.Fatal(err)
		}
		var ms float64
		if err := p.Eval(ctx, browser.WaitJS("document.querySelector('.maplibregl-popup svg.sparkline polyline')", 5000), &ms); err != nil {
			t.Fatal(err)
		}
		if ms < 0 {
			var html string
			_ = p.Eval(ctx, "(document.querySelector('.maplibregl-popup')||{}).innerHTML||'no popup'", &html)
			t.Fatalf("no sparkline in the popup: %s", html)
		}
		var title string
		if err := p.Eval(ctx, "document.querySelector('.maplibregl-popup h2').textContent", &title); err != nil {
			t.Fatal(err)
		}
		if title != site.Name {
			t.Errorf("popup title %q, want %q", title, site.Name)
		}
	})
	browser.Shot(ctx, t, p, dir, "map-after-changes.png")
}

func TestIndicatorsPage(t *testing.T) {
	needBuilt(t)
	b := browser.Start(t)
	for _, tc := range []struct {
		name   string
		shapes bool
		query  string
	}{
		{name: "with shapes", shapes: true},
		{name: "cards only", shapes: false},
		{name: "embedded", shapes: true, query: "?embed=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, 20)
			api.publicShapes = tc.shapes
			srv := serve(t, api)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			p := b.NewPage(ctx)
			defer p.DrainLog()
			if err := p.Navigate(ctx, srv.URL+"/indicators/"+tc.query); err != nil {
				t.Fatal(err)
			}
			var ms float64
			if err := p.Eval(ctx, browser.WaitJS("document.body.dataset.ready === 'true'", 10000), &ms); err != nil || ms < 0 {
				t.Fatalf("the page never rendered the indicators: %v", err)
			}
			var cards []struct {
				ID, Label, Tab, Heading string
			}
			if err := p.Eval(ctx, `[...document.querySelectorAll('article.area-card')].map(c => ({ID: c.dataset.id,
  Label: c.getAttribute('aria-label') || '', Tab: c.getAttribute('tabindex') || '', Heading: c.querySelector('h3').textContent}))`, &cards); err != nil {
				t.Fatal(err)
			}
			// The last area has no sensors: it is folded into one line, not a card.
			if len(cards) != len(api.areas)-1 {
				t.Fatalf("%d area cards, want %d", len(cards), len(api.areas)-1)
			}
			for i, c := range cards {
				a := api.indicators.Areas[i]
				if c.ID != a.ID || c.Heading != a.Name || c.Tab != "0" || !strings.HasPrefix(c.Label, a.Name+": ") {
					t.Errorf("card %d = %+v, want area %s %q focusable with an aria-label", i, c, a.ID, a.Name)
				}
			}
			var folded string
			if err := p.Eval(ctx, `document.querySelector('#no-sensors summary').textContent + ': ' + document.getElementById('no-sensors-list').textContent`, &folded); err != nil {
				t.Fatal(err)
			}
			if want := "1 comune senza sensori: " + api.areas[len(api.areas)-1].Name; folded != want {
				t.Errorf("folded line %q, want %q", folded, want)
			}
			want := 0
			if tc.shapes {
				// The shapes load after the cards (loadShapes): wait for them.
				want = len(api.areas)
				cond := fmt.Sprintf(`document.querySelectorAll('#choropleth-map path[tabindex="0"][aria-label]').length === %d`, want)
				if err := p.Eval(ctx, browser.WaitJS(cond, 10000), &ms); err != nil {
					t.Fatal(err)
				}
			}
			var paths int
			if err := p.Eval(ctx, `document.querySelectorAll('#choropleth-map path[tabindex="0"][aria-label]').length`, &paths); err != nil {
				t.Fatal(err)
			}
			if paths != want {
				t.Errorf("%d focusable choropleth regions, want %d", paths, want)
			}
			var headerShown bool
			if err := p.Eval(ctx, `getComputedStyle(document.querySelector('header')).display !== 'none'`, &headerShown); err != nil {
				t.Fatal(err)
			}
			if headerShown == (tc.query != "") {
				t.Errorf("header shown = %v with query %q", headerShown, tc.query)
			}
			browser.Shot(ctx, t, p, browser.Artifacts(t), "indicators-"+strings.ReplaceAll(tc.name, " ", "-")+".png")
		})
	}
}

func TestMapRefusedToken(t *testing.T) {
	needBuilt(t)
	api := newFakeAPI(t, 20)
	srv := serve(t, api)
	b := browser.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := b.NewPage(ctx)
	defer p.DrainLog()
	if err := p.Navigate(ctx, srv.URL+"/map/#token=wrong"); err != nil {
		t.Fatal(err)
	}
	var ms float64
	if err := p.Eval(ctx, browser.WaitJS("!document.getElementById('token-form').hidden", 20000), &ms); err != nil || ms < 0 {
		t.Fatalf("no token form after a refused token: %v", err)
	}
	var status string
	if err := p.Eval(ctx, "document.getElementById('status').textContent", &status); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(status, "missing or invalid token") {
		t.Errorf("status %q, want the API's error", status)
	}
	browser.Shot(ctx, t, p, browser.Artifacts(t), "map-refused-token.png")
}
