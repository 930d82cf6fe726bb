package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// Benchmark shape: benchClients SSE clients, one change every
// benchInterval (a city of 10,000 sites reporting every 50 s), each
// change sent to every client.
const (
	benchClients  = 1000
	benchInterval = 5 * time.Millisecond
)

// BenchmarkSSEFanout measures the latency from a change leaving the twin
// (Updated stamped with time.Now() just before it is emitted) to each of
// 1,000 SSE clients over real loopback HTTP having read and decoded the
// event, one change per iteration, paced at 200 changes/s, on the fake
// twin (the API's own cost).
func BenchmarkSSEFanout(b *testing.B) {
	fake := newFakeReader(fixtureEntities()...)
	fake.buf = 512
	e := siteAir
	benchFanout(b, fake, benchInterval, func(i int) {
		e.Name = strconv.Itoa(i)
		e.Updated = time.Now()
		fake.emit(e)
	})
}

// BenchmarkSSEFanoutTwin is BenchmarkSSEFanout over the real twin with
// 10,000 sensor sites: each iteration applies one reading acquired now to
// one of the 5,000 air-quality sites the clients follow.
func BenchmarkSSEFanoutTwin(b *testing.B) {
	const sites = 10000
	ss := benchSites(sites, 0.002)
	tw, err := twin.New(twin.Config{Sites: ss, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	benchFanout(b, tw, benchInterval, func(i int) {
		k := (2 * i) % sites // an air site
		tw.Apply(ss[k].Gateway, 1, &wire.Batch{Gateway: ss[k].Gateway, Epoch: 1, Seqs: []uint64{uint64(i + 1)}, Readings: []wire.Reading{
			{Device: ss[k].Device, Point: "no2", Value: wire.Float(float64(i)), Unit: "ug/m3", Time: time.Now(), Quality: wire.QualityGood}}})
	})
}

// BenchmarkSSEFanoutCity is BenchmarkSSEFanoutTwin at issue 17's size:
// 100,000 sites and 1,000 changes/s (a change every millisecond).
func BenchmarkSSEFanoutCity(b *testing.B) {
	const sites = 100000
	ss := benchSites(sites, 0.0002)
	tw, err := twin.New(twin.Config{Sites: ss, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	benchFanout(b, tw, time.Millisecond, func(i int) {
		k := (2 * i) % sites // an air site
		tw.Apply(ss[k].Gateway, 1, &wire.Batch{Gateway: ss[k].Gateway, Epoch: 1, Seqs: []uint64{uint64(i + 1)}, Readings: []wire.Reading{
			{Device: ss[k].Device, Point: "no2", Value: wire.Float(float64(i)), Unit: "ug/m3", Time: time.Now(), Quality: wire.QualityGood}}})
	})
}

// benchSites are n sites, air and traffic in turn, 100 per gateway, on a
// grid of 100 columns 0.003 degrees apart and rows dLat apart.
func benchSites(n int, dLat float64) []twin.Site {
	var ss []twin.Site
	for i := range n {
		cat := wire.CategoryAir
		if i%2 == 1 {
			cat = wire.CategoryTraffic
		}
		ss = append(ss, twin.Site{Gateway: "gw" + strconv.Itoa(i/100), Device: "d" + strconv.Itoa(i%100), Category: cat,
			Lon: 11.1 + float64(i%100)*0.003, Lat: 43.7 + float64(i/100)*dLat, Interval: time.Minute})
	}
	return ss
}

// benchFanout runs benchClients streams of AirQualityObserved changes
// over reader and calls emit once per iteration, every interval; each
// call must cause exactly one such change. Besides the latencies it
// reports the changes per second emitted (below the rate when emit falls
// behind) and the CPU time of the whole process (API and clients) per
// change, steadier than the latencies on a shared machine.
func benchFanout(b *testing.B, reader twin.Reader, interval time.Duration, emit func(i int)) {
	a, err := New(Config{Reader: reader, Tokens: []string{testToken}, Registerer: prometheus.NewRegistry(), MaxStreams: benchClients})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients}}

	lat := make([][]time.Duration, benchClients)
	got := make([]atomic.Int64, benchClients)
	var ready atomic.Int64 // clients subscribed
	var wg sync.WaitGroup
	for i := range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/stream?type=AirQualityObserved", nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := client.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					b.Errorf("client %d: %v", i, err)
				}
				return
			}
			defer resp.Body.Close()
			r := bufio.NewReaderSize(resp.Body, 16<<10)
			var f struct {
				Properties struct {
					Updated time.Time `json:"updated"`
				} `json:"properties"`
			}
			// The first bytes are sent once the stream has subscribed.
			if _, err := r.ReadSlice('\n'); err != nil {
				return
			}
			ready.Add(1)
			for {
				line, err := r.ReadSlice('\n')
				if err != nil {
					return
				}
				data, ok := bytes.CutPrefix(line, []byte("data: "))
				if !ok || len(data) < 3 || data[1] == '}' {
					continue
				}
				if err := json.Unmarshal(data, &f); err != nil || f.Properties.Updated.IsZero() {
					continue // the indicators event
				}
				lat[i] = append(lat[i], time.Since(f.Properties.Updated))
				got[i].Add(1)
			}
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for ready.Load() < benchClients {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d clients subscribed", ready.Load(), benchClients)
		}
		time.Sleep(10 * time.Millisecond)
	}

	b.ResetTimer()
	cpu0, err := testenv.SelfCPU()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := range b.N {
		<-tick.C
		emit(i)
	}
	emitted := time.Since(start)
	// Wait for every client to have every change (bounded).
	deadline = time.Now().Add(60 * time.Second)
	for {
		done := true
		for i := range got {
			done = done && got[i].Load() >= int64(b.N)
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	cpu1, err := testenv.SelfCPU()
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cancel()
	srv.CloseClientConnections()
	wg.Wait()

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if want := b.N * benchClients; len(all) < want {
		b.Fatalf("%d events received, want %d (%d streams dropped by the twin)", len(all), want, int(droppedStreams(a)))
	}
	slices.Sort(all)
	ms := func(q float64) float64 { return float64(all[int(q*float64(len(all)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(ms(0.50), "ms_p50")
	b.ReportMetric(ms(0.99), "ms_p99")
	b.ReportMetric(ms(1), "ms_max")
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/emitted.Seconds(), "changes/s")
	b.ReportMetric((cpu1-cpu0)*1000/float64(b.N), "ms_cpu_per_change")
}

// droppedStreams is how many streams the twin dropped.
func droppedStreams(a *API) float64 {
	var m dto.Metric
	if err := a.metrics.dropped.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
