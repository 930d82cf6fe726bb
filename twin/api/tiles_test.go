package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/twin/sitetiles"
)

// tileIDs decodes a sites tile and returns its features' _id, sorted,
// and how many sites its clusters count.
func tileIDs(t *testing.T, body []byte) (ids []string, clustered int) {
	t.Helper()
	layers, err := mvt.Unmarshal(body)
	if err != nil {
		t.Fatalf("not a vector tile (%v): %.200q", err, body)
	}
	for _, l := range layers {
		if l.Name != sitetiles.Layer {
			t.Errorf("layer %q, want %q", l.Name, sitetiles.Layer)
		}
		for _, f := range l.Features {
			if n, ok := f.Properties["point_count"].(float64); ok {
				clustered += int(n)
				continue
			}
			ids = append(ids, fmt.Sprint(f.Properties["_id"]))
		}
	}
	slices.Sort(ids)
	return ids, clustered
}

// TestSiteTilesTenants: the sites' tiles and their summary answer a
// stranger 401, and a tenant's token gets only its own sites: Bari's
// token finds nothing in Firenze's tile, at street zoom (sites one by
// one) and zoomed out (clusters).
func TestSiteTilesTenants(t *testing.T) {
	tt := newTwoTenants(t, nil, time.Now().UTC().Add(-time.Second))
	fiAir, fiNoise := tt.ids["fi-air"], tt.ids["fi-noise"]
	path := func(z maptile.Zoom, p orb.Point) string {
		tl := maptile.At(p, z)
		return fmt.Sprintf("/api/v1/tiles/sites/%d/%d/%d", tl.Z, tl.X, tl.Y)
	}
	duomo := orb.Point{11.2558, 43.7731}
	street, wide := path(16, duomo), path(8, duomo)

	for _, p := range []string{street, wide, "/api/v1/tiles/sites.json"} {
		if resp, _ := get(t, tt.url+p, "", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s for a stranger: %d, want 401", p, resp.StatusCode)
		}
	}
	cases := []struct {
		token     string
		ids       []string
		clustered int
	}{
		{cityToken, []string{fiAir, fiNoise, "urn:ngsi-ld:Device:gw-fi"}, 2},
		{firenzeToken, []string{fiAir, fiNoise, "urn:ngsi-ld:Device:gw-fi"}, 2},
		{bariToken, nil, 0},
	}
	for _, c := range cases {
		resp, body := get(t, tt.url+street, c.token, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != mvtType || resp.Header.Get("Cache-Control") == "" {
			t.Fatalf("%s: %d %s %q", street, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
		}
		ids, _ := tileIDs(t, body)
		// Gateways are drawn where they are configured: keep only the
		// ones this test knows the place of.
		ids = slices.DeleteFunc(ids, func(id string) bool { return strings.Contains(id, "Device") && !strings.HasSuffix(id, "gw-fi") })
		want := slices.Sorted(slices.Values(c.ids))
		if !slices.Equal(ids, want) {
			t.Errorf("street tile for %s: %v, want %v", c.token, ids, want)
		}
		if c.token == bariToken && strings.Contains(string(body), "fi-") {
			t.Errorf("Bari's token sees Firenze in the tile: %q", body)
		}
		_, body = get(t, tt.url+wide, c.token, nil)
		ids, n := tileIDs(t, body)
		if n != c.clustered || slices.Contains(ids, fiAir) && c.token == bariToken {
			t.Errorf("zoomed out for %s: %d sites clustered and %v, want %d clustered", c.token, n, ids, c.clustered)
		}
	}

	var sum struct {
		Sites, Gateways int
		Frame           []float64
	}
	for _, c := range []struct {
		token string
		lon   float64
	}{{bariToken, 16.87}, {firenzeToken, 11.25}} {
		_, body := get(t, tt.url+"/api/v1/tiles/sites.json", c.token, nil)
		if err := json.Unmarshal(body, &sum); err != nil || sum.Sites != 2 || len(sum.Frame) != 4 || sum.Frame[0] > c.lon+0.01 || sum.Frame[2] < c.lon-0.01 {
			t.Errorf("summary for %s: %s (%v)", c.token, body, err)
		}
	}
}

// TestSiteTileBadRequests: tile coordinates outside the served zooms or
// the zoom's grid, or not numbers, and bad filters are refused with 400
// naming the parameter; nothing is cut for them.
func TestSiteTileBadRequests(t *testing.T) {
	tt := newTwoTenants(t, nil, time.Now().UTC())
	cases := []struct{ path, param string }{
		{"3/4/5", "z"},
		{"19/0/0", "z"},
		{"-1/0/0", "z"},
		{"99999999999/0/0", "z"},
		{"10/1024/0", "z"},
		{"10/0/1024", "z"},
		{"10/-1/0", "z"},
		{"a/0/0", "z"},
		{"10/1e3/0", "x"},
		{"10/0/0x10", "y"},
		{"10/0/5.pbf", "y"},
		{"10/0/" + strings.Repeat("9", 40), "y"},
		{"10/544/370?freshness=old", "freshness"},
		{"10/544/370?type=" + strings.Repeat("x", 200), "type"},
		{"10/544/370?type=a%20b", "type"},
	}
	for _, c := range cases {
		resp, body := get(t, tt.url+"/api/v1/tiles/sites/"+c.path, cityToken, nil)
		wantError(t, resp, body, http.StatusBadRequest, c.param, "")
	}
	if len(tt.api.tiles.byKey) != 0 {
		t.Errorf("bad requests cached %d tiles", len(tt.api.tiles.byKey))
	}
	// The edges of the grid are tiles.
	for _, p := range []string{"4/0/0", "4/15/15", "18/262143/262143", "10/544/370?type=AirQualityObserved&freshness=fresh"} {
		if resp, body := get(t, tt.url+"/api/v1/tiles/sites/"+p, cityToken, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
}

// TestTileCacheBound: the tile cache holds at most tileCacheTiles tiles
// and about tileCacheBytes, however many tiles are asked for.
func TestTileCacheBound(t *testing.T) {
	var c tileCache
	now := time.Now()
	for i := range 3 * tileCacheTiles {
		c.put(fmt.Sprint(i), 1, now, make([]byte, 100))
	}
	if len(c.byKey) != tileCacheTiles || len(c.order) != tileCacheTiles {
		t.Errorf("%d tiles (%d keys), want %d", len(c.byKey), len(c.order), tileCacheTiles)
	}
	if c.get("0", 1, now) != nil || c.get(fmt.Sprint(3*tileCacheTiles-1), 1, now) == nil {
		t.Error("the oldest tile is kept or the newest dropped")
	}
	for i := range 10 {
		c.put(fmt.Sprint("big", i), 1, now, make([]byte, tileCacheBytes/4))
	}
	if c.bytes > tileCacheBytes {
		t.Errorf("%d bytes held, want at most %d", c.bytes, tileCacheBytes)
	}
	// A tile of an older twin is served only while fresh.
	c.put("x", 1, now, []byte("tile"))
	if c.get("x", 2, now) == nil || c.get("x", 2, now.Add(tileFresh)) != nil || c.get("x", 1, now.Add(time.Hour)) == nil {
		t.Error("staleness of cached tiles")
	}
}

// FuzzSiteTilePath: no path value makes the tiles' handler fail other
// than with 400, 404 or the mux's redirect of an unclean path.
func FuzzSiteTilePath(f *testing.F) {
	for _, s := range []string{"10/544/370", "4/0/0", "18/262143/262143", "19/0/0", "-0/0/0", "+5/1/1", "5/0/ 1"} {
		f.Add(s)
	}
	a, err := New(Config{Reader: newFakeReader(), Tokens: []string{testToken}, Registerer: prometheus.NewRegistry()})
	if err != nil {
		f.Fatal(err)
	}
	h := a.Handler()
	f.Fuzz(func(t *testing.T, p string) {
		req, err := http.NewRequest("GET", "/api/v1/tiles/sites/"+p, nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest && w.Code != http.StatusNotFound && (w.Code < 300 || w.Code > 399) {
			t.Errorf("%q: %d %s", p, w.Code, w.Body)
		}
	})
}
