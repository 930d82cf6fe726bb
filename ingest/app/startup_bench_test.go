package app_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/ingesttest"
)

// BenchmarkIngestStartup measures how long ingest takes to start with a
// twin of 1,000, 10,000 and 100,000 sites placed from site configs
// (gateways of 100 meters each, read through internal/site's inventory
// as ingest loads them), and the heap it then holds: config-s is
// config.Load (the ingest config and every site config and profile),
// start-s is app.Run until it listens (the inventory, the twin placing
// the sites in the areas, the broker, the API), MB_heap the live heap
// after a GC once started, less the heap before the config was read.
func BenchmarkIngestStartup(b *testing.B) {
	for _, gateways := range []int{10, 100, 1000} {
		size := sseSize{gateways: gateways, perGw: 100, interval: time.Second}
		b.Run(fmt.Sprintf("sites=%d", gateways*100), func(b *testing.B) {
			for range b.N {
				dir := b.TempDir()
				// The files are written first, as they are on disk when
				// the service starts.
				_, path := writeConfig(b, dir, "", sseTwinConfig(b, dir, size), gateways)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				t0, cpu0 := time.Now(), processCPU(b)
				cfg, err := config.Load(path)
				if err != nil {
					b.Fatal(err)
				}
				loaded, loadedCPU := time.Since(t0), processCPU(b)-cpu0
				_, stop := runUntil(b, cfg, app.Options{Sink: ingesttest.NewMemSink()})
				started := time.Since(t0) - loaded
				runtime.GC()
				runtime.ReadMemStats(&after)
				stop()
				b.ReportMetric(loaded.Seconds(), "config-s")
				// The CPU time of the config's load: steadier than its
				// wall-clock time on a shared machine.
				b.ReportMetric(float64(loadedCPU)/float64(time.Millisecond), "ms_config_cpu")
				b.ReportMetric(started.Seconds(), "start-s")
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MB_heap")
			}
		})
	}
}
