package twin

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/wire"
)

var benchCategories = []wire.Category{wire.CategoryTraffic, wire.CategoryAir, wire.CategoryNoise, wire.CategoryParking, wire.CategoryEnergy, wire.CategoryWeather}

// citySites spreads n sites over the Firenze and Bari metro areas, 100
// sites per gateway, categories in turn.
func citySites(n int) []Site {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]Site, n)
	for i := range out {
		lon, lat := 11.15+r.Float64()*0.25, 43.72+r.Float64()*0.12 // Firenze and around
		if i%2 == 1 {
			lon, lat = 16.80+r.Float64()*0.15, 41.05+r.Float64()*0.10 // Bari and around
		}
		out[i] = Site{Gateway: fmt.Sprintf("gw-%03d", i/100), Device: fmt.Sprintf("dev-%05d", i),
			Category: benchCategories[i%len(benchCategories)], Lon: lon, Lat: lat, Interval: time.Minute}
	}
	return out
}

// siteReadings are a few readings of a site's category at time at.
func siteReadings(s Site, at time.Time, v float64) []wire.Reading {
	d := s.Device
	switch s.Category {
	case "traffic":
		return []wire.Reading{rd(d, "lane1_intensity", wire.Int(int64(v)), "1/min", at), rd(d, "lane1_occupancy", wire.Float(v), "%", at), rd(d, "lane1_speed", wire.Float(50-v), "km/h", at)}
	case "air":
		return []wire.Reading{rd(d, "no2", wire.Float(v*3), "ug/m3", at), rd(d, "pm10", wire.Float(v), "ug/m3", at)}
	case "noise":
		return []wire.Reading{rd(d, "LAeq", wire.Float(50+v), "dB", at)}
	case "parking":
		return []wire.Reading{rd(d, "occupied", wire.Bool(int(v)%2 == 0), "", at)}
	case "energy":
		return []wire.Reading{rd(d, "total_power", wire.Float(v*100), "W", at), rd(d, "import_energy", wire.Float(v), "kWh", at)}
	}
	return []wire.Reading{rd(d, "temperature", wire.Float(v), "Cel", at)}
}

func benchTwin(b *testing.B, n int, mod ...func(*Config)) (*Twin, []Site) {
	b.Helper()
	sites := citySites(n)
	cfg := Config{Areas: metroAreas(b), Roads: fixtureRoads(b), Sites: sites, Logger: quietLogger()}
	for _, m := range mod {
		m(&cfg)
	}
	tw, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return tw, sites
}

// benchSizes are the twin sizes of the cost curves (issue 17): 1x, 10x
// and 100x of a city of 1,000 sites.
var benchSizes = []int{1000, 10000, 100000}

// BenchmarkApply applies batches of 100 sites' readings (one gateway's
// batch) into twins of 1,000, 10,000 and 100,000 sites. The cost per
// reading (ns/reading, allocs/reading) must not grow with the number of
// sites: a reading touches its site, its areas, its road and its gateway,
// never a scan of the city.
func BenchmarkApply(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("sites=%d", n), func(b *testing.B) { benchApply(b, n) })
	}
}

func benchApply(b *testing.B, n int) {
	tw, sites := benchTwin(b, n)
	at := time.Now()
	var batches []*wire.Batch
	for g := 0; g < len(sites); g += 100 {
		bt := &wire.Batch{Gateway: sites[g].Gateway}
		for _, s := range sites[g : g+100] {
			bt.Readings = append(bt.Readings, siteReadings(s, at, 20)...)
		}
		batches = append(batches, bt)
	}
	// One round over every batch first: a site's first reading fills its
	// maps, and the ring of retained changes grows to History once; the
	// figures are of the steady state.
	for _, bt := range batches {
		tw.Apply(bt.Gateway, 1, bt)
	}
	for range 2 * len(batches) {
		tw.Apply(batches[0].Gateway, 1, batches[0])
	}
	readings := 0
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		bt := batches[i%len(batches)]
		step := time.Duration(i) * time.Millisecond
		for j := range bt.Readings {
			bt.Readings[j].Time = at.Add(step)
		}
		tw.Apply(bt.Gateway, 1, bt)
		readings += len(bt.Readings)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(readings)/elapsed.Seconds(), "readings/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(readings), "ns/reading")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(readings), "allocs/reading")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(readings), "B/reading")
}

// BenchmarkEntitiesBBox queries a 1 km viewport of central Firenze over a
// twin of 10,000 sites.
func BenchmarkEntitiesBBox(b *testing.B) {
	tw, _ := benchTwin(b, 10000)
	view := orb.Bound{Min: orb.Point{11.245, 43.765}, Max: orb.Point{11.258, 43.774}}
	n := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n = len(tw.Entities(Filter{Bound: &view, Types: []string{"site"}}))
	}
	b.ReportMetric(float64(n), "entities/query")
}

// BenchmarkTwinMemory reports the heap of twins of 1,000, 10,000 and
// 100,000 sites, each site with its latest readings, and up to 10,000
// retained changes, and how long New took to place the sites.
func BenchmarkTwinMemory(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("sites=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				start := time.Now()
				tw, sites := benchTwin(b, n)
				placed := time.Since(start)
				at := time.Now()
				for _, s := range sites {
					tw.Apply(s.Gateway, 1, &wire.Batch{Gateway: s.Gateway, Readings: siteReadings(s, at, 20)})
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MB_heap")
				b.ReportMetric(float64(placed.Milliseconds()), "new-ms")
				runtime.KeepAlive(tw)
			}
		})
	}
}

// BenchmarkFanout measures the latency from Apply (ingest receipt: the
// reading's time is taken just before Apply) to each of 1,000 subscribers
// over a twin of 10,000 sites, one site change per Apply.
func BenchmarkFanout(b *testing.B) {
	const clients = 1000
	tw, sites := benchTwin(b, 10000)
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N*clients)
	var wg sync.WaitGroup
	unsubs := make([]func(), clients)
	chans := make([]<-chan Change, clients)
	for c := 0; c < clients; c++ {
		ch, unsub := tw.Subscribe(Filter{Types: []string{"site"}}, 0)
		unsubs[c], chans[c] = unsub, ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ch := range ch {
				mine = append(mine, time.Since(ch.Entity.Updated))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		s := sites[(i*7)%len(sites)]
		tw.Apply(s.Gateway, 1, &wire.Batch{Gateway: s.Gateway, Readings: []wire.Reading{
			rd(s.Device, "temperature", wire.Float(float64(i)), "Cel", time.Now())}})
		// 2,000 changes/s offered (a change due every 500 us), as
		// Apply no longer waits for the subscribers.
		if wait := time.Until(start.Add(time.Duration(i+1) * 500 * time.Microsecond)); wait > 0 {
			time.Sleep(wait)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "changes/s")
	for _, ch := range chans { // let every client read what is queued, for up to 10 s
		for k := 0; k < 1000 && tw.queued(ch) > 0; k++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
	for _, u := range unsubs {
		u()
	}
	wg.Wait()
	b.StopTimer()
	if len(lat) == 0 {
		b.Fatal("no change received")
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(len(lat))/float64(b.N*clients), "delivered_ratio")
	b.ReportMetric(float64(tw.dropped.Load()), "dropped_clients")
}

// BenchmarkSetGatewaySites re-enrols one gateway of 100 sites with one
// site moved, in a twin of 10,000 sites: the cost of an enrolment,
// dominated by rebuilding the spatial index under the lock.
func BenchmarkSetGatewaySites(b *testing.B) {
	tw, sites := benchTwin(b, 10000)
	gw := append([]Site(nil), sites[:100]...)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		gw[0].Lon = 11.2 + float64(i%2)*0.01
		if err := tw.SetGatewaySites(gw[0].Gateway, gw); err != nil {
			b.Fatal(err)
		}
	}
}
