package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
