package replica_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/twin"
)

// BenchmarkAppliedStream publishes b.N batches (5 readings each) from
// four concurrent pipelines of one instance through the applied stream on
// a three-node cluster into a second instance's twin, and reports the
// batches applied per second and the time from Apply (publish) to the
// change reaching a subscriber of the other instance's twin.
func BenchmarkAppliedStream(b *testing.B) {
	c := natstest.Start(b, natstest.Options{Nodes: 3})
	pub, follower := start(b, c, "pub"), start(b, c, "follower")
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	ch, unsub := follower.tw.Subscribe(twin.Filter{Types: []string{"AirQualityObserved"}}, 0)
	defer unsub()
	perGw := b.N/len(gateways) + 1
	sent := make([][]time.Time, len(gateways))
	for g := range sent {
		sent[g] = make([]time.Time, perGw)
	}
	byID := map[string]int{}
	for g, gw := range gateways {
		byID["urn:ngsi-ld:AirQualityObserved:"+gw+":d0"] = g
	}
	var mu sync.Mutex
	lat := make([]time.Duration, 0, perGw*len(gateways))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for got := 0; got < perGw*len(gateways); {
			c, ok := <-ch
			if !ok {
				return
			}
			g, ok := byID[c.Entity.ID]
			if !ok {
				continue
			}
			i := int(c.Entity.Attrs["pm10"].Value.(float64))
			mu.Lock()
			lat = append(lat, time.Since(sent[g][i]))
			mu.Unlock()
			got++
		}
	}()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for g, gw := range gateways {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perGw {
				mu.Lock()
				sent[g][i] = time.Now()
				mu.Unlock()
				pub.r.Apply(gw, 1, batch(gw, i, base))
			}
		}()
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("subscriber saw %d of %d batches", len(lat), perGw*len(gateways))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "batches/s")
	b.ReportMetric(q(0.50), "ms_p50")
	b.ReportMetric(q(0.99), "ms_p99")
}
