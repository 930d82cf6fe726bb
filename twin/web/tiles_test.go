package web_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/internal/testenv/browser"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/sitetiles"
)

// colorStale is a stale site's colour (README.md).
const colorStale = "#e69f00"

// pixelJS returns the colour ("#rrggbb") the map's canvas shows at a
// point [lon, lat].
func pixelJS(lon, lat float64) string {
	return fmt.Sprintf(`(() => { const m = window.ponteMap.map; const p = m.project([%f, %f]); const r = window.devicePixelRatio || 1;
  const k = document.createElement('canvas'); k.width = 1; k.height = 1; const g = k.getContext('2d');
  g.drawImage(m.getCanvas(), Math.round(p.x * r), Math.round(p.y * r), 1, 1, 0, 0, 1, 1);
  const d = g.getImageData(0, 0, 1, 1).data; return '#' + [d[0], d[1], d[2]].map((x) => x.toString(16).padStart(2, '0')).join(''); })()`, lon, lat)
}

// near says whether two "#rrggbb" colours differ by at most 3 in each
// channel (the circle's antialiasing and the canvas's rounding).
func near(a, b string) bool {
	if len(a) != 7 || len(b) != 7 {
		return false
	}
	for i := 1; i < 7; i += 2 {
		x, err1 := strconv.ParseUint(a[i:i+2], 16, 8)
		y, err2 := strconv.ParseUint(b[i:i+2], 16, 8)
		if err1 != nil || err2 != nil || x > y+3 || y > x+3 {
			return false
		}
	}
	return true
}

// TestMapTiles: with 100,000 sites the map draws them from the server's
// vector tiles (clusters zoomed out, each site zoomed in); a site drawn
// from a tile is repainted by an SSE change (its pixel on the canvas)
// without new tiles, and its popup opens. Screenshots
// map-tiles-100k-low.png and map-tiles-100k-high.png.
func TestMapTiles(t *testing.T) {
	needBuilt(t)
	const n = 100000
	api := newFakeAPI(t, n)
	srv := serve(t, api)
	br := browser.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := br.NewPage(ctx)
	defer p.DrainLog()
	if err := p.Navigate(ctx, srv.URL+"/map/#token="+testToken); err != nil {
		t.Fatal(err)
	}
	var ms float64
	if err := p.Eval(ctx, browser.WaitJS("window.ponteMap", 60000), &ms); err != nil || ms < 0 {
		t.Fatalf("window.ponteMap never appeared: %v", err)
	}
	if err := p.Eval(ctx, "window.ponteMap.ready", nil); err != nil {
		t.Fatalf("map not ready: %v", err)
	}
	var kind string
	if err := p.Eval(ctx, "window.ponteMap.map.getSource('sites').type", &kind); err != nil || kind != "vector" || api.tiles.Load() == 0 {
		t.Fatalf("the sites' source is %q (%v), %d tiles served; want vector tiles", kind, err, api.tiles.Load())
	}
	select {
	case <-api.connected:
	case <-time.After(60 * time.Second):
		t.Fatal("the map never opened the SSE stream")
	}
	dir := browser.Artifacts(t)
	eval := func(js string, v any) {
		t.Helper()
		if err := p.Eval(ctx, js, v); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
	}
	wait := func(what, cond string) {
		t.Helper()
		var ms float64
		if err := p.Eval(ctx, browser.WaitJS(cond, 20000), &ms); err != nil || ms < 0 {
			t.Fatalf("%s: not within 20 s (%v)", what, err)
		}
	}

	t.Run("clusters zoomed out", func(t *testing.T) {
		eval("window.ponteMap.map.jumpTo({ center: [11.247, 43.774], zoom: 10 }), true", nil)
		wait("clusters drawn", "window.ponteMap.map.loaded() && window.ponteMap.map.queryRenderedFeatures({ layers: ['clusters'] }).length > 0")
		var counted int
		eval("(() => { const seen = new Set(); let n = 0; for (const c of window.ponteMap.map.queryRenderedFeatures({ layers: ['clusters'] })) { const k = c.geometry.coordinates.join(); if (!seen.has(k)) { seen.add(k); n += c.properties.point_count; } } return n; })()", &counted)
		if counted < n/2 || counted > n {
			t.Errorf("the clusters in view count %d sites, want most of %d", counted, n)
		}
		browser.Shot(ctx, t, p, dir, "map-tiles-100k-low.png")
	})

	// Where sites crowd from zoom 12, a cell's sites are one cluster
	// (twin/sitetiles.Crowded): a site of it turning offline paints the
	// cluster offline (its worst state) without a new tile, and back.
	t.Run("a crowded cell's cluster changes colour", func(t *testing.T) {
		const z = 14
		j := n/2 + 40
		pos := api.sites[j].Geometry.(orb.Point)
		x, y := sitetiles.Cell(pos, z)
		cell := sitetiles.CellID(z, x, y)
		members := 0
		for _, e := range api.sites {
			if cx, cy := sitetiles.Cell(e.Geometry.(orb.Point), z); cx == x && cy == y {
				members++
				if e.Freshness == twin.Offline {
					t.Fatalf("site %s of cell %s is offline already", e.ID, cell)
				}
			}
		}
		if members <= sitetiles.Crowded {
			t.Fatalf("cell %s holds %d sites, want a crowded one", cell, members)
		}
		eval(fmt.Sprintf("window.ponteMap.map.jumpTo({ center: [%f, %f], zoom: %d }), true", pos[0], pos[1], z), nil)
		site := api.sites[j]
		wait("the cluster drawn", fmt.Sprintf("window.ponteMap.map.loaded() && window.ponteMap.featureColor(%q) === %q", site.ID, colorStale))
		var got struct{ ID, Color string }
		eval(fmt.Sprintf("window.ponteMap.clusterOf(%q)", site.ID), &got)
		if got.ID != cell || got.Color != colorStale {
			t.Fatalf("the page puts %s in cluster %+v, want %s drawn %s", site.ID, got, cell, colorStale)
		}
		var at []float64
		eval(fmt.Sprintf("window.ponteMap.map.querySourceFeatures('sites', { sourceLayer: 'sites', filter: ['==', ['get', '_id'], %q] })[0].geometry.coordinates", cell), &at)
		if len(at) != 2 {
			t.Fatalf("cluster %s's point %v", cell, at)
		}
		var before, px string
		eval(pixelJS(at[0], at[1]), &before)
		tilesBefore := api.tiles.Load()
		redOf := func(c string) uint64 { v, _ := strconv.ParseUint(c[1:3], 16, 8); return v }
		for _, step := range []struct {
			to   twin.Freshness
			want string
		}{{twin.Offline, colorOffline}, {site.Freshness, colorStale}} {
			site.Freshness = step.to
			api.sites[j] = site
			if api.sendEntity(site) == 0 {
				t.Fatal("no stream to send the change to")
			}
			wait("the cluster painted "+step.want, fmt.Sprintf("window.ponteMap.featureColor(%q) === %q", site.ID, step.want))
			// The canvas: the cluster is drawn a little transparent, so
			// its pixel is its colour over the map's; offline is far
			// darker than stale.
			for range 200 {
				eval(pixelJS(at[0], at[1]), &px)
				if len(px) == 7 && (step.to == twin.Offline) == (redOf(px)+60 < redOf(before)) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if len(px) != 7 || (step.to == twin.Offline) != (redOf(px)+60 < redOf(before)) {
				t.Errorf("the cluster's pixel is %s (stale it was %s) with %s %s", px, before, site.ID, step.to)
			}
			if step.to == twin.Offline {
				browser.Shot(ctx, t, p, dir, "map-tiles-100k-middle.png")
			}
		}
		if got := api.tiles.Load(); got != tilesBefore {
			t.Errorf("a colour change asked %d new tiles, want none", got-tilesBefore)
		}
	})

	// A stale site at street zoom, away from the panels.
	idx := n/2 + 160
	if api.sites[idx].Freshness != twin.Stale {
		idx += 2 // a quarter of the fake's sites are stale: every fourth
	}
	site := api.sites[idx]
	pt := site.Geometry.Bound().Center()
	t.Run("a site drawn from a tile changes colour", func(t *testing.T) {
		if site.Freshness != twin.Stale {
			t.Fatalf("site %s is %s, want a stale one", site.ID, site.Freshness)
		}
		eval(fmt.Sprintf("window.ponteMap.map.jumpTo({ center: [%f, %f], zoom: 18 }), true", pt[0], pt[1]), nil)
		wait("the site drawn", fmt.Sprintf("window.ponteMap.map.loaded() && window.ponteMap.featureColor(%q) === %q", site.ID, colorStale))
		waitPixel := func(want string) {
			t.Helper()
			var px string
			for range 200 {
				eval(pixelJS(pt[0], pt[1]), &px)
				if near(px, want) {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Errorf("the site's pixel is %s, want %s", px, want)
		}
		waitPixel(colorStale)
		tilesBefore := api.tiles.Load()
		site.Freshness = twin.Offline
		api.sites[idx] = site
		if api.sendEntity(site) == 0 {
			t.Fatal("no stream to send the change to")
		}
		wait("the site painted offline", fmt.Sprintf("window.ponteMap.featureColor(%q) === %q", site.ID, colorOffline))
		waitPixel(colorOffline)
		if got := api.tiles.Load(); got != tilesBefore {
			t.Errorf("a colour change asked %d new tiles, want none", got-tilesBefore)
		}
		browser.Shot(ctx, t, p, dir, "map-tiles-100k-high.png")
	})

	t.Run("the filters go to the tiles", func(t *testing.T) {
		// A stale neighbour of the (now offline) site, in view.
		var stale twin.Entity
		for _, d := range []int{-4, 4, -8, 8} {
			if e := api.sites[idx+d]; e.Freshness == twin.Stale {
				stale = e
				break
			}
		}
		if stale.ID == "" {
			t.Fatal("no stale neighbour")
		}
		wait("the neighbour drawn", fmt.Sprintf("window.ponteMap.featureColor(%q) === %q", stale.ID, colorStale))
		choose := `(() => { const s = document.getElementById('filter-freshness'); s.value = %q; s.dispatchEvent(new Event('change')); return true; })()`
		eval(fmt.Sprintf(choose, "offline"), nil)
		wait("only offline sites drawn", fmt.Sprintf("window.ponteMap.map.loaded() && window.ponteMap.featureColor(%q) === null && window.ponteMap.featureColor(%q) === %q", stale.ID, site.ID, colorOffline))
		if q, _ := api.lastTileQuery.Load().(string); !strings.Contains(q, "freshness=offline") {
			t.Errorf("the last tile was asked with %q, want freshness=offline", q)
		}
		eval(fmt.Sprintf(choose, ""), nil)
		wait("every site drawn again", fmt.Sprintf("window.ponteMap.map.loaded() && window.ponteMap.featureColor(%q) === %q", stale.ID, colorStale))
	})

	t.Run("its popup opens", func(t *testing.T) {
		click := fmt.Sprintf(`(() => { const m = window.ponteMap.map; const ll = [%f, %f];
  m.fire('click', { point: m.project(ll), lngLat: new (m.getCenter().constructor)(ll[0], ll[1]) }); return true; })()`, pt[0], pt[1])
		eval(click, nil)
		wait("the popup", "!!document.querySelector('.ponte-popup')")
		var text string
		eval("document.querySelector('.ponte-popup').innerText", &text)
		if !strings.Contains(text, site.Name) {
			t.Errorf("popup %q does not name %s", text, site.Name)
		}
		browser.Shot(ctx, t, p, dir, "map-tiles-100k-popup.png")
	})
}
