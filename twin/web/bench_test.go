package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/internal/testenv/browser"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/sitetiles"
)

// BenchmarkMapChange measures, in headless Chromium with software WebGL,
// how long the map takes from a change leaving the (fake) SSE stream to
// what draws the site taking its new colour and the next frame drawn
// (two animation frames after featureColor says so): the site itself, or
// the cluster it is drawn in where sites crowd (twin/sitetiles.Crowded),
// whose colour is its sites' worst state. Each change is one that
// changes a colour on screen: a site in a cluster is skipped for the
// next one when its change leaves the cluster's worst state as it was.
// It reports the p50 and p99 of that latency and how long the first load
// took, and the page's JS heap once loaded (CDP Runtime.getHeapUsage).
// It runs at 1,000, 10,000 and 100,000 sites (the cost curve of issue
// 17). Run with -benchtime=50x for a stable sample.
func BenchmarkMapChange(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("sites=%d", n), func(b *testing.B) { benchMapChange(b, n) })
	}
}

func benchMapChange(b *testing.B, n int) {
	needBuilt(b)
	api := newFakeAPI(b, n)
	srv := serve(b, api)
	br := browser.Start(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p := br.NewPage(ctx)
	defer p.DrainLog()

	// PONTE_BENCH_JSPROFILE=file writes the page's CPU profile (CDP
	// Profiler, .cpuprofile as Chromium's DevTools read it) of the load
	// and the changes.
	profile := os.Getenv("PONTE_BENCH_JSPROFILE")
	if profile != "" {
		for _, m := range []string{"Profiler.enable", "Profiler.start"} {
			if _, err := p.Call(ctx, m, nil); err != nil {
				b.Fatal(m, err)
			}
		}
	}
	cpu0 := browserCPU()
	start := time.Now()
	if err := p.Navigate(ctx, srv.URL+"/map/#token="+testToken); err != nil {
		b.Fatal(err)
	}
	var waited float64
	if err := p.Eval(ctx, browser.WaitJS("window.ponteMap", 60000), &waited); err != nil || waited < 0 {
		b.Fatalf("window.ponteMap never appeared: %v", err)
	}
	if err := p.Eval(ctx, "window.ponteMap.ready", nil); err != nil {
		b.Fatalf("map not ready: %v", err)
	}
	load := time.Since(start)
	loadCPU := browserCPU() - cpu0
	var marks map[string]float64
	_ = p.Eval(ctx, "Object.fromEntries(performance.getEntriesByType('mark').filter((m) => m.name.startsWith('ponte:')).map((m) => [m.name, Math.round(m.startTime)]))", &marks)
	b.Logf("first load %v; in the page (ms since navigation): %v; %d tiles (%d KB) served, the last %v after navigating, cut in %v",
		load, marks, api.tiles.Load(), api.tileBytes.Load()>>10, time.Duration(api.lastTile.Load()-start.UnixNano()), time.Duration(api.tileTime.Load()))
	var count int
	if err := p.Eval(ctx, "window.ponteMap.featureCount('site')", &count); err != nil {
		b.Fatal(err)
	}
	if count != n {
		b.Fatalf("the map holds %d sites, want %d", count, n)
	}
	select {
	case <-api.connected:
	case <-time.After(30 * time.Second):
		b.Fatal("the map never opened the SSE stream")
	}

	var heap struct{ UsedSize, TotalSize float64 }
	if raw, err := p.Call(ctx, "Runtime.getHeapUsage", nil); err != nil || json.Unmarshal(raw, &heap) != nil {
		b.Fatalf("Runtime.getHeapUsage: %v (%s)", err, raw)
	}

	// The cells of the tiles' zoom the page draws, as twin/sitetiles cuts
	// them: which sites a cluster draws, and its colour.
	var zoom float64
	if err := p.Eval(ctx, "window.ponteMap.map.getZoom()", &zoom); err != nil {
		b.Fatal(err)
	}
	z := min(sitetiles.MaxZoom, max(sitetiles.MinZoom, int(math.Round(zoom))))
	byCell := map[[2]int][]int{}
	cellOf := make([][2]int, n)
	for j := range api.sites {
		x, y := sitetiles.Cell(api.sites[j].Geometry.(orb.Point), z)
		cellOf[j] = [2]int{x, y}
		byCell[cellOf[j]] = append(byCell[cellOf[j]], j)
	}
	crowd := sitetiles.Crowded
	if z < sitetiles.ClusterMaxZoom {
		crowd = 1
	}
	clustered := func(j int) bool { return len(byCell[cellOf[j]]) > crowd }
	worst := func(j int) string {
		n := map[twin.Freshness]int{}
		for _, k := range byCell[cellOf[j]] {
			n[api.sites[k].Freshness]++
		}
		switch {
		case n[twin.Offline] > 0:
			return colorOffline
		case n[twin.Stale] > 0:
			return colorStale
		case n[twin.Fresh] > 0:
			return colorFresh
		}
		return colorUnknown
	}
	var inClusters int
	b.Logf("tiles' zoom %d: %d cells", z, len(byCell))

	var lat []time.Duration
	cpu0 = browserCPU()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		j := (i * 7919) % n
		var site twin.Entity
		var want string
		for tries := 0; ; tries++ {
			site = api.sites[j]
			before := worst(j)
			want = colorOffline
			site.Freshness = twin.Offline
			if api.sites[j].Freshness == twin.Offline {
				site.Freshness, want = twin.Fresh, colorFresh
			}
			if !clustered(j) {
				api.sites[j] = site
				break
			}
			old := api.sites[j]
			api.sites[j] = site
			if want = worst(j); want != before {
				inClusters++
				break
			}
			api.sites[j] = old
			if j = (j + 1) % n; tries > n {
				b.Fatal("no change of a site changes a colour")
			}
		}
		t0 := time.Now()
		api.sendEntity(site)
		var ms float64
		if err := p.Eval(ctx, browser.WaitJS(fmt.Sprintf("window.ponteMap.featureColor(%q) === %q", site.ID, want), 10000), &ms); err != nil {
			b.Fatal(err)
		}
		if err := p.Eval(ctx, "new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))", nil); err != nil {
			b.Fatal(err)
		}
		if ms < 0 {
			b.Fatalf("site %s not painted %s within 10 s", site.ID, want)
		}
		lat = append(lat, time.Since(t0))
		if i < 5 {
			var st map[string]float64
			_ = p.Eval(ctx, "(() => { const s = window.ponteMap.stats; return {flush: s.flushAt - s.eventAt, applied: s.appliedAt - s.eventAt, render: s.renderAt - s.eventAt, now: performance.now() - s.eventAt}; })()", &st)
			var call float64
			_ = p.Eval(ctx, fmt.Sprintf("(() => { const t = performance.now(); window.ponteMap.featureColor(%q); return performance.now() - t; })()", site.ID), &call)
			b.Logf("change %d: %v in Go; in the page after the event: %v; featureColor takes %.1f ms", i, lat[len(lat)-1], st, call)
		}
	}
	b.StopTimer()
	changeCPU := (browserCPU() - cpu0) / time.Duration(len(lat))
	b.Logf("%d of %d changes in a cluster", inClusters, len(lat))
	if profile != "" {
		raw, err := p.Call(ctx, "Profiler.stop", nil)
		var out struct{ Profile json.RawMessage }
		if err == nil {
			err = json.Unmarshal(raw, &out)
		}
		if err == nil {
			err = os.WriteFile(fmt.Sprintf("%s-%d.cpuprofile", profile, n), out.Profile, 0o644)
		}
		if err != nil {
			b.Fatal("Profiler.stop:", err)
		}
	}
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(load.Seconds(), "load-s")
	b.ReportMetric(heap.UsedSize/(1<<20), "MB_js_heap")
	// The browser's CPU time (every Chromium process), the figure that
	// holds on a shared machine where the wall-clock ones do not.
	b.ReportMetric(float64(loadCPU.Milliseconds()), "ms_cpu_load")
	b.ReportMetric(float64(changeCPU.Microseconds())/1000, "ms_cpu_per_change")
	b.ReportMetric(0, "ns/op")
	browser.Shot(ctx, b, p, browser.Artifacts(b), fmt.Sprintf("map-%dk-sites.png", n/1000))
}

// browserCPU is the CPU time (user and system) of this process's
// descendants still running, from /proc: the browser's processes.
// colorUnknown is the colour of a site never heard from (README.md).
const colorUnknown = "#c8c8c8"

func browserCPU() time.Duration {
	dirs, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	ticks := map[int]int64{}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime stime are fields 14 and 15;
		// comm may hold spaces, so count from its closing parenthesis.
		rest := string(raw[strings.LastIndexByte(string(raw), ')')+2:])
		f := strings.Fields(rest)
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		parent[pid] = ppid
		ticks[pid] = ut + st
	}
	self := os.Getpid()
	var sum int64
	for pid, t := range ticks {
		for p, hops := parent[pid], 0; p != 0 && hops < 64; p, hops = parent[p], hops+1 {
			if p == self {
				sum += t
				break
			}
		}
	}
	return time.Duration(sum) * time.Second / 100 // USER_HZ
}
