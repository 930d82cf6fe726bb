package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/paulmach/orb/maptile"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/sitetiles"
)

// mvtType is the media type of Mapbox Vector Tiles.
const mvtType = "application/vnd.mapbox-vector-tile"

// Bounds of the sites' tile cache: what the tiles' callers can make the
// server hold. A tile is kept until the twin changed and tileFresh has
// passed (the page paints live changes over its tiles through feature
// state, so a tile a second old is as good as a new one), or until
// newer tiles push it out.
const (
	tileCacheTiles = 2048
	tileCacheBytes = 32 << 20
	tileFresh      = time.Second
)

// tileCache holds encoded tiles by scope, filter and z/x/y, oldest
// first out.
type tileCache struct {
	mu    sync.Mutex
	byKey map[string]*tileEntry
	order []string // keys, oldest first
	bytes int
}

type tileEntry struct {
	seq  uint64
	at   time.Time
	body []byte
}

func (c *tileCache) get(key string, seq uint64, now time.Time) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byKey[key]
	if e == nil || e.seq != seq && now.Sub(e.at) >= tileFresh {
		return nil
	}
	return e.body
}

func (c *tileCache) put(key string, seq uint64, now time.Time, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = map[string]*tileEntry{}
	}
	if old := c.byKey[key]; old != nil {
		c.bytes -= len(old.body)
	} else {
		c.order = append(c.order, key)
	}
	c.byKey[key] = &tileEntry{seq: seq, at: now, body: body}
	c.bytes += len(body)
	for len(c.order) > 1 && (len(c.order) > tileCacheTiles || c.bytes > tileCacheBytes) {
		k := c.order[0]
		c.order = c.order[1:]
		if e := c.byKey[k]; e != nil {
			c.bytes -= len(e.body)
			delete(c.byKey, k)
		}
	}
}

// parseTile parses the z, x and y path values of a tile request.
func parseTile(r *http.Request) (maptile.Tile, *paramError) {
	var v [3]int
	for i, name := range []string{"z", "x", "y"} {
		s := r.PathValue(name)
		n, err := strconv.Atoi(s)
		if err != nil || len(s) > 7 {
			return maptile.Tile{}, &paramError{name, fmt.Sprintf("%q is not a tile coordinate", clip(s))}
		}
		v[i] = n
	}
	if err := sitetiles.Check(v[0], v[1], v[2]); err != nil {
		return maptile.Tile{}, &paramError{"z", fmt.Sprintf("%d/%d/%d: %v", v[0], v[1], v[2], err)}
	}
	return maptile.New(uint32(v[1]), uint32(v[2]), maptile.Zoom(v[0])), nil
}

// parseTileFilter parses the tiles' type and freshness parameters (the
// page's filters).
func parseTileFilter(r *http.Request) (sitetiles.Filter, *paramError) {
	q := r.URL.Query()
	f := sitetiles.Filter{Type: q.Get("type"), Freshness: twin.Freshness(q.Get("freshness"))}
	if f.Type != "" {
		if msg := checkName(f.Type); msg != "" {
			return f, &paramError{"type", fmt.Sprintf("%q %s", clip(f.Type), msg)}
		}
	}
	switch f.Freshness {
	case "", twin.Fresh, twin.Stale, twin.Offline, twin.Unknown:
	default:
		return f, &paramError{"freshness", fmt.Sprintf("%q is not fresh, stale, offline or unknown", clip(string(f.Freshness)))}
	}
	return f, nil
}

var siteKinds = []string{string(twin.KindSite), string(twin.KindGateway)}

// handleSiteTile answers GET /api/v1/tiles/sites/{z}/{x}/{y}: the sites
// and gateways of the caller's scope in tile z/x/y as a Mapbox Vector
// Tile (see twin/sitetiles).
func (a *API) handleSiteTile(w http.ResponseWriter, r *http.Request) {
	t, perr := parseTile(r)
	if perr == nil {
		var f sitetiles.Filter
		f, perr = parseTileFilter(r)
		if perr == nil {
			a.serveSiteTile(w, r, t, f)
			return
		}
	}
	badParam(w, perr)
}

func (a *API) serveSiteTile(w http.ResponseWriter, r *http.Request, t maptile.Tile, f sitetiles.Filter) {
	seq := a.reader.LastSeq()
	now := time.Now()
	key := fmt.Sprintf("%s\x00%s\x00%s\x00%d/%d/%d", scopeOf(r).Key(), f.Type, f.Freshness, t.Z, t.X, t.Y)
	body := a.tiles.get(key, seq, now)
	if body == nil {
		b := sitetiles.Bound(t)
		ents := a.scoped(r).Entities(twin.Filter{Bound: &b, Types: siteKinds})
		var err error
		body, err = sitetiles.Encode(ents, t, f)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "", "encoding tile: "+err.Error())
			return
		}
		a.tiles.put(key, seq, now, body)
	}
	h := w.Header()
	h.Set("Content-Type", mvtType)
	// The page asks again with a new v= when it needs newer tiles (new
	// or removed sites, cluster counts); live colours come by the stream.
	h.Set("Cache-Control", "private, max-age=60")
	h.Set("Vary", "Accept-Encoding, Authorization")
	writeMaybeGzip(w, r, body)
}

// siteTilesInfo is GET /api/v1/tiles/sites.json's answer.
type siteTilesInfo struct {
	sitetiles.Summary
	MinZoom        int `json:"minzoom"`
	MaxZoom        int `json:"maxzoom"`
	ClusterMaxZoom int `json:"clusterMaxZoom"`
	// Layer is the tiles' source-layer.
	Layer string `json:"layer"`
}

// handleSiteTilesInfo answers GET /api/v1/tiles/sites.json: how many
// sites and gateways the caller's scope has, where to frame them, and
// the tiles' zooms.
func (a *API) handleSiteTilesInfo(w http.ResponseWriter, r *http.Request) {
	seq := a.reader.LastSeq()
	ents := a.scoped(r).Entities(twin.Filter{Types: siteKinds})
	body, err := json.Marshal(siteTilesInfo{Summary: sitetiles.Summarize(ents), MinZoom: sitetiles.MinZoom,
		MaxZoom: sitetiles.MaxZoom, ClusterMaxZoom: sitetiles.ClusterMaxZoom, Layer: sitetiles.Layer})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Last-Event-ID", strconv.FormatUint(seq, 10))
	_, _ = w.Write(append(body, '\n'))
}
