package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

const (
	benchGateways = 8
	benchBatch    = 1000
)

// BenchmarkPipelineInflux measures readings/s from gateways' MQTT
// publishes through Mosquitto and ingest into a real InfluxDB 1.8.10, up to
// the acknowledgements; then writes the same points directly with the
// InfluxDB client (the client's batching, 2 writers, 5000 points a
// write) and reports that rate and the ratio (target >= 0.8).
func BenchmarkPipelineInflux(b *testing.B) {
	srv := influxtest.Start(b)
	br := testenv.Mosquitto(b)
	cfg := influxConfig(b, srv, br.URL, benchGateways)
	addrs := start(b, cfg, app.Options{})
	perGw := uint64(b.N)/benchGateways + 1
	perGw = (perGw + benchBatch - 1) / benchBatch * benchBatch
	cache := make([]map[uint64][]byte, benchGateways)
	for i := range cache {
		cache[i] = map[uint64][]byte{}
		for first := uint64(1); first <= perGw; first += benchBatch {
			cache[i][first] = ingesttest.BatchFor(fmt.Sprintf("gw%d", i+1), 42, first, min(first+benchBatch-1, perGw))
		}
	}
	b.ResetTimer()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	errs := make(chan error, benchGateways)
	for i := 0; i < benchGateways; i++ {
		cc := cache[i]
		g := &ingesttest.Gateway{ID: fmt.Sprintf("gw%d", i+1), Epoch: 42, Topics: wire.Topics{}, Batch: benchBatch,
			Window: 8, ResendAfter: time.Minute, Payload: func(first, _ uint64) []byte { return cc[first] }}
		c, err := g.Connect(addrs.BrokerURL, password(g.ID))
		if err != nil {
			b.Fatal(err)
		}
		go func() { defer c.Disconnect(50); errs <- g.Run(ctx, c, perGw) }()
	}
	for i := 0; i < benchGateways; i++ {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	viaIngest := float64(perGw*benchGateways) / time.Since(start).Seconds()
	b.StopTimer()

	// The same points, written directly by the client.
	client := influxdb2.NewClientWithOptions(srv.URL, "", influxdb2.DefaultOptions().SetBatchSize(5000))
	defer client.Close()
	api := client.WriteAPIBlocking("", srv.Bucket)
	points := make([][]*write.Point, benchGateways)
	for i := range points {
		gw := fmt.Sprintf("direct-gw%d", i+1)
		for s := uint64(1); s <= perGw; s++ {
			r := ingesttest.ReadingFor(s)
			points[i] = append(points[i], write.NewPoint("ponte", map[string]string{"device": r.Device, "gateway": gw},
				map[string]any{r.Point: r.Value.Any()}, r.Time))
		}
	}
	dstart := time.Now()
	work := make(chan []*write.Point)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ps := range work {
				if err := api.WritePoint(ctx, ps...); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for _, ps := range points {
		for len(ps) > 0 {
			n := min(5000, len(ps))
			work <- ps[:n]
			ps = ps[n:]
		}
	}
	close(work)
	wg.Wait()
	direct := float64(perGw*benchGateways) / time.Since(dstart).Seconds()
	b.ReportMetric(viaIngest, "readings/s")
	b.ReportMetric(direct, "direct-readings/s")
	b.ReportMetric(viaIngest/direct, "ratio")
}
