package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// BenchmarkEntitiesAnswer measures the server's half of the map's first
// load: GET /api/v1/entities (every entity, as the map asks) over a twin
// of 1,000, 10,000 and 100,000 sites, each with its readings, gzipped as
// a browser asks. It reports the time per answer and the answer's size
// before and after gzip.
func BenchmarkEntitiesAnswer(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("sites=%d", n), func(b *testing.B) {
			ss := benchSites(n, 0.0002)
			tw, err := twin.New(twin.Config{Sites: ss, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			for _, s := range ss {
				rs := []wire.Reading{{Device: s.Device, Point: "no2", Value: wire.Float(40), Unit: "ug/m3", Time: now}}
				if s.Category == wire.CategoryTraffic {
					rs = []wire.Reading{{Device: s.Device, Point: "lane1_intensity", Value: wire.Int(12), Unit: "1/min", Time: now},
						{Device: s.Device, Point: "lane1_speed", Value: wire.Float(38), Unit: "km/h", Time: now}}
				}
				tw.Apply(s.Gateway, 1, &wire.Batch{Gateway: s.Gateway, Readings: rs})
			}
			a, err := New(Config{Reader: tw, Tokens: []string{testToken}, Registerer: prometheus.NewRegistry()})
			if err != nil {
				b.Fatal(err)
			}
			h := a.Handler()
			size := func(gzip bool) int {
				req := httptest.NewRequest(http.MethodGet, "/api/v1/entities", nil)
				req.Header.Set("Authorization", "Bearer "+testToken)
				if gzip {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("GET /entities: %d %s", w.Code, w.Body.String())
				}
				return w.Body.Len()
			}
			plain := size(false)
			b.ResetTimer()
			var zipped int
			start := time.Now()
			for range b.N {
				zipped = size(true)
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms_per_answer")
			b.ReportMetric(float64(plain)/(1<<20), "MB_answer")
			b.ReportMetric(float64(zipped)/(1<<20), "MB_gzipped")
		})
	}
}

// BenchmarkSiteTiles measures the server's half of the tiled map's first
// load (issue 17): the sites' tiles of a view, cut from a twin of
// 1,000, 10,000 and 100,000 sites without the tile cache (the worst
// case: the twin changed more than a second ago), as a browser asks
// (gzipped). Views: all the sites at zoom 11 (clustered) and a street
// view at zoom 15 (each site drawn), 1280 by 800 pixels. It reports the
// time and the process's CPU time per tile and the view's bytes.
func BenchmarkSiteTiles(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		ss := benchSites(n, 0.0002)
		tw, err := twin.New(twin.Config{Sites: ss, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		a, err := New(Config{Reader: tw, Tokens: []string{testToken}, Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		h := a.Handler()
		for _, v := range []struct {
			name string
			z    maptile.Zoom
			at   orb.Point
		}{{"clustered", 11, orb.Point{11.25, 43.7 + float64(n/100)*0.0001}}, {"street", 15, orb.Point{11.25, 43.7 + float64(n/100)*0.0001}}} {
			// The view's tiles: 1280x800 pixels of 512-pixel tiles around at.
			c := maptile.At(v.at, v.z)
			var tiles []maptile.Tile
			for dx := -1; dx <= 1; dx++ {
				for dy := -1; dy <= 1; dy++ {
					tiles = append(tiles, maptile.New(uint32(int(c.X)+dx), uint32(int(c.Y)+dy), v.z))
				}
			}
			b.Run(fmt.Sprintf("sites=%d/%s", n, v.name), func(b *testing.B) {
				var bytes int
				cpu0, _ := testenv.SelfCPU()
				start := time.Now()
				for range b.N {
					a.tiles = tileCache{}
					bytes = 0
					for _, t := range tiles {
						req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/api/v1/tiles/sites/%d/%d/%d", t.Z, t.X, t.Y), nil)
						req.Header.Set("Authorization", "Bearer "+testToken)
						req.Header.Set("Accept-Encoding", "gzip")
						w := httptest.NewRecorder()
						h.ServeHTTP(w, req)
						if w.Code != http.StatusOK {
							b.Fatalf("%v: %d %s", t, w.Code, w.Body.String())
						}
						bytes += w.Body.Len()
					}
				}
				cpu1, _ := testenv.SelfCPU()
				per := float64(b.N * len(tiles))
				b.ReportMetric(float64(time.Since(start).Microseconds())/1000/per, "ms_per_tile")
				b.ReportMetric((cpu1-cpu0)*1000/per, "ms_cpu_per_tile")
				b.ReportMetric(float64(bytes)/(1<<20), "MB_view_gzipped")
			})
		}
	}
}
