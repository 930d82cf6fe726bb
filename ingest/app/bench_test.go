package app_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
// the acknowledgements, against InfluxDB's own rate for the same points:
// their line protocol encoded beforehand and written with the client, 2
// writers of 5,000 lines (InfluxDB's recommended batch). Five rounds
// alternate which goes first, each on its own gateways (so its own
// series); it reports the median rates and the minimum, median and maximum
// of the rounds' ratios (target: >= 0.95), with InfluxDB on half the cores
// and everything else on the other half.
func BenchmarkPipelineInflux(b *testing.B) {
	const rounds = 5
	srv := influxtest.Start(b)
	br := testenv.Mosquitto(b)
	pinInfluxApart(b, srv.Pid(), br.Pid())
	cfg := influxConfig(b, srv, br.URL, benchGateways*rounds)
	addrs := start(b, cfg, app.Options{})
	perGw := uint64(b.N)/(benchGateways*rounds) + 1
	perGw = (perGw + benchBatch - 1) / benchBatch * benchBatch
	total := float64(perGw * benchGateways)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// Every round's payloads and bodies are made before the clock starts.
	caches := make([][]map[uint64][]byte, rounds)
	for r := range caches {
		caches[r] = make([]map[uint64][]byte, benchGateways)
		for i := range benchGateways {
			id := fmt.Sprintf("gw%d", r*benchGateways+i+1)
			caches[r][i] = map[uint64][]byte{}
			for first := uint64(1); first <= perGw; first += benchBatch {
				caches[r][i][first] = ingesttest.BatchFor(id, 42, first, min(first+benchBatch-1, perGw))
			}
		}
	}
	bodies := make([][]string, rounds)
	for r := range bodies {
		var body strings.Builder
		lines := 0
		for i := range benchGateways {
			gw := fmt.Sprintf("direct-gw%d", r*benchGateways+i+1)
			for s := uint64(1); s <= perGw; s++ {
				rd := ingesttest.ReadingFor(s)
				p := write.NewPoint("ponte", map[string]string{"device": rd.Device, "gateway": gw},
					map[string]any{rd.Point: rd.Value.Any()}, rd.Time)
				body.WriteString(write.PointToLineProtocol(p, time.Nanosecond))
				if lines++; lines == 5000 {
					bodies[r] = append(bodies[r], body.String())
					body.Reset()
					lines = 0
				}
			}
		}
		if lines > 0 {
			bodies[r] = append(bodies[r], body.String())
		}
	}

	viaIngest := func(r int) float64 {
		start := time.Now()
		errs := make(chan error, benchGateways)
		for i := range benchGateways {
			cc := caches[r][i]
			g := &ingesttest.Gateway{ID: fmt.Sprintf("gw%d", r*benchGateways+i+1), Epoch: 42, Topics: wire.Topics{}, Batch: benchBatch,
				Window: 8, ResendAfter: time.Minute, Payload: func(first, _ uint64) []byte { return cc[first] }}
			c, err := g.Connect(addrs.BrokerURL, password(g.ID))
			if err != nil {
				b.Fatal(err)
			}
			go func() { defer c.Disconnect(50); errs <- g.Run(ctx, c, perGw) }()
		}
		for range benchGateways {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		return total / time.Since(start).Seconds()
	}

	client := influxdb2.NewClientWithOptions(srv.URL, "", influxdb2.DefaultOptions().SetLogLevel(0))
	defer client.Close()
	api := client.WriteAPIBlocking("", srv.Bucket)
	direct := func(r int) float64 {
		start := time.Now()
		work := make(chan string)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for body := range work {
					if err := api.WriteRecord(ctx, body); err != nil {
						b.Error(err)
					}
				}
			})
		}
		for _, body := range bodies[r] {
			work <- body
		}
		close(work)
		wg.Wait()
		return total / time.Since(start).Seconds()
	}

	// CPU seconds of ingest (this process), Mosquitto and influxd.
	cpu := func() [3]float64 { return cpuOf(b, br.Pid(), srv.Pid()) }
	var ingCPU, dirCPU [3]float64 // summed over the rounds
	timed := func(f func(int) float64, r int, sum *[3]float64) float64 {
		before := cpu()
		rate := f(r)
		after := cpu()
		for k := range sum {
			sum[k] += after[k] - before[k]
		}
		return rate
	}

	b.ResetTimer()
	var ing, dir, ratio []float64
	for r := range rounds {
		var i, d float64
		if r%2 == 0 {
			i = timed(viaIngest, r, &ingCPU)
			b.StopTimer()
			d = timed(direct, r, &dirCPU)
			b.StartTimer()
		} else {
			b.StopTimer()
			d = timed(direct, r, &dirCPU)
			b.StartTimer()
			i = timed(viaIngest, r, &ingCPU)
		}
		ing, dir, ratio = append(ing, i), append(dir, d), append(ratio, i/d)
	}
	b.StopTimer()
	// Where the time goes on a shared machine: CPU per reading of each
	// process in the ingest rounds (this process: ingest and the
	// gateways' MQTT clients), and of influxd in the direct ones.
	n := total * rounds
	b.ReportMetric(ingCPU[0]/n*1e6, "ingest-us/reading")
	b.ReportMetric(ingCPU[1]/n*1e6, "mosquitto-us/reading")
	b.ReportMetric(ingCPU[2]/n*1e6, "influxd-us/reading")
	b.ReportMetric(dirCPU[2]/n*1e6, "direct-influxd-us/reading")
	slices.Sort(ing)
	slices.Sort(dir)
	slices.Sort(ratio)
	b.ReportMetric(ing[rounds/2], "readings/s")
	b.ReportMetric(dir[rounds/2], "direct-readings/s")
	b.ReportMetric(ratio[0], "min-ratio")
	b.ReportMetric(ratio[rounds/2], "ratio")
	b.ReportMetric(ratio[rounds-1], "max-ratio")
}
