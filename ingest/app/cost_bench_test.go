package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// costSizes are a city at 1x, 10x and 100x of today's size (issue 17):
// 100 gateways sending 100 readings a second each (10,000 readings/s),
// 1,000 gateways (100,000/s), and 1,000 gateways of 1,000 readings a
// second (1,000,000/s).
var costSizes = []struct {
	name             string
	gateways, perSec int
}{
	{"1x", 100, 100},
	{"10x", 1000, 100},
	{"100x", 1000, 1000},
}

// BenchmarkIngestCost is ingest's cost curve: at each of costSizes,
// gateways publish a batch a second through Mosquitto into ingest and a
// real InfluxDB 1.8.10 for PONTE_BENCH_SECONDS (default 10), each batch
// acknowledged once written. It reports the rate reached (readings
// acknowledged over the time to the last ack), how long the last ack came
// after the last batch's due time, and the CPU (cores) of this process
// (ingest and the gateways' MQTT clients), Mosquitto and influxd. InfluxDB
// has half the cores, the rest the other half (see BenchmarkPipelineInflux).
func BenchmarkIngestCost(b *testing.B) {
	testenv.Integration(b, "ingest with Mosquitto and InfluxDB")
	seconds := 10
	if v := os.Getenv("PONTE_BENCH_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("PONTE_BENCH_SECONDS=%q: expected a whole number of seconds >= 1", v)
		}
		seconds = n
	}
	for _, size := range costSizes {
		b.Run(size.name, func(b *testing.B) {
			for range b.N {
				ingestCost(b, size.gateways, size.perSec, seconds)
			}
		})
	}
}

func ingestCost(b *testing.B, gateways, perSec, seconds int) {
	srv := influxtest.Start(b)
	br := testenv.Mosquitto(b)
	pinInfluxApart(b, srv.Pid(), br.Pid())
	cfg := influxConfig(b, srv, br.URL, gateways)
	addrs := start(b, cfg, app.Options{})
	total := uint64(perSec * seconds)
	batch := uint64(perSec)

	// Payloads made beforehand; gateways connected before the clock starts.
	type gw struct {
		g       *ingesttest.Gateway
		payload map[uint64][]byte
	}
	gws := make([]*gw, gateways)
	for i := range gws {
		id := fmt.Sprintf("gw%d", i+1)
		p := map[uint64][]byte{}
		for first := uint64(1); first <= total; first += batch {
			p[first] = ingesttest.BatchFor(id, 42, first, first+batch-1)
		}
		gws[i] = &gw{payload: p, g: &ingesttest.Gateway{ID: id, Epoch: 42, Topics: wire.Topics{}, Batch: batch,
			Window: 8, Pipeline: true, ResendAfter: 30 * time.Second}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second+5*time.Minute)
	defer cancel()
	cpu := func() [3]float64 { return cpuOf(b, br.Pid(), srv.Pid()) }

	b.ResetTimer()
	start := time.Now()
	before := cpu()
	errs := make(chan error, gateways)
	for i, g := range gws {
		// Spread over the second, each gateway's batch k is due at
		// start + k s.
		offset := time.Duration(i) * time.Second / time.Duration(gateways)
		g.g.Payload = func(first, _ uint64) []byte {
			due := start.Add(offset + time.Duration((first-1)/batch)*time.Second)
			time.Sleep(time.Until(due))
			return g.payload[first]
		}
		c, err := g.g.Connect(addrs.BrokerURL, password(g.g.ID))
		if err != nil {
			b.Fatal(err)
		}
		go func() { defer c.Disconnect(50); errs <- g.g.Run(ctx, c, total) }()
	}
	for range gateways {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start)
	after := cpu()
	b.StopTimer()
	sec := el.Seconds()
	lag := el - time.Duration(seconds-1)*time.Second - time.Second*time.Duration(gateways-1)/time.Duration(gateways)
	b.ReportMetric(float64(total)*float64(gateways)/sec, "readings/s")
	b.ReportMetric(float64(lag.Milliseconds()), "last-ack-lag-ms")
	b.ReportMetric((after[0]-before[0])/sec, "ingest-cores")
	b.ReportMetric((after[1]-before[1])/sec, "mosquitto-cores")
	b.ReportMetric((after[2]-before[2])/sec, "influxd-cores")
	b.Logf("%d gateways x %d readings/s for %d s: %d readings in %.1f s, last ack %s after the last batch was due",
		gateways, perSec, seconds, total*uint64(gateways), sec, lag.Round(time.Millisecond))
}

// cpuOf returns the CPU seconds used so far by this process (ingest and
// the gateways' clients), the broker and influxd.
func cpuOf(b *testing.B, brokerPid, influxPid int) [3]float64 {
	self, err1 := testenv.SelfCPU()
	mq, err2 := testenv.ProcessCPU(brokerPid)
	db, err3 := testenv.ProcessCPU(influxPid)
	if err := errors.Join(err1, err2, err3); err != nil {
		b.Fatal(err)
	}
	return [3]float64{self, mq, db}
}

// pinInfluxApart puts influxd on half the cores and this process (ingest
// and the gateways' clients, or a direct writer) and others (the broker)
// on the other half: InfluxDB on cores of its own, as on its own machine.
// Otherwise a benchmark measures how ingest and the broker share
// InfluxDB's cores (their CPU per reading, which the benchmarks report)
// more than how ingest keeps InfluxDB fed. PONTE_BENCH_PIN=0 leaves every
// process on every core.
func pinInfluxApart(b *testing.B, influxPid int, others ...int) {
	n := runtime.NumCPU()
	if n < 2 || os.Getenv("PONTE_BENCH_PIN") == "0" {
		return
	}
	half := n / 2
	testenv.PinCPUs(b, influxPid, fmt.Sprintf("%d-%d", half, n-1))
	testenv.PinCPUs(b, 0, fmt.Sprintf("0-%d", half-1))
	for _, pid := range others {
		testenv.PinCPUs(b, pid, fmt.Sprintf("0-%d", half-1))
	}
	b.Logf("influxd on CPUs %d-%d; this process and %d others on 0-%d", half, n-1, len(others), half-1)
}
