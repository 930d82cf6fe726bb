package intake_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/testenv"
)

// benchPipeline measures readings/s from gateways' MQTT publishes through
// a real Mosquitto, decode, validation, dedup (with its fsync) and sink,
// to the gateways' acknowledgements.
func benchPipeline(b *testing.B, url string, gateways int, batch uint64) (readingsPerSec float64) {
	total := uint64(b.N)/uint64(gateways) + 1
	total = (total + batch - 1) / batch * batch
	// Encode outside the timer: the gateways' CPU is not ingest's.
	cache := make([]map[uint64][]byte, gateways)
	for i := range cache {
		cache[i] = map[uint64][]byte{}
		for first := uint64(1); first <= total; first += batch {
			cache[i][first] = ingesttest.BatchFor(fmt.Sprintf("gw%d", i+1), 42, first, min(first+batch-1, total))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	errs := make(chan error, gateways)
	for i := 0; i < gateways; i++ {
		id := fmt.Sprintf("gw%d", i+1)
		cc := cache[i]
		g := &ingesttest.Gateway{ID: id, Epoch: 42, Topics: topics, Batch: batch, Window: 8, ResendAfter: 30 * time.Second,
			Payload: func(first, _ uint64) []byte { return cc[first] }}
		c, err := g.Connect(url, "pw-"+id)
		if err != nil {
			b.Fatal(err)
		}
		go func() { defer c.Disconnect(50); errs <- g.Run(ctx, c, total) }()
	}
	for i := 0; i < gateways; i++ {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	rate := float64(total*uint64(gateways)) / elapsed.Seconds()
	b.ReportMetric(rate, "readings/s")
	return rate
}

// BenchmarkPipelineDiscard is ingest's own throughput (the >= 200k
// readings/s target), with a sink that discards.
func BenchmarkPipelineDiscard(b *testing.B) {
	br := testenv.Mosquitto(b)
	startPipeline(b, pipeOpts{url: br.URL, clientID: "ingest-bench", sink: ingesttest.DiscardSink{}})
	benchPipeline(b, br.URL, 8, 1000)
}

// benchJetStream measures readings/s from gateways' MQTT publishes on
// node 1 of a three-node NATS cluster, through the replicated uplink
// stream and the shared consumer, into intakes (real pipelines with a
// discarding sink, one dedup state) on the other nodes, to the gateways'
// acknowledgements over MQTT.
func benchJetStream(b *testing.B, intakes int) {
	const gateways = 8
	c := startNATS(b, gateways)
	state := b.TempDir()
	for i := range intakes {
		p := newService(b, pipeOpts{sink: ingesttest.DiscardSink{}, stateDir: state})
		startJS(b, clusterURLs(c, 1+i%2), p.svc, nil)
	}
	rate := benchPipeline(b, c.Nodes[0].MQTT, gateways, 1000)
	fmt.Printf("bench nats_intake_%d %.0f readings/s (b.N %d)\n", intakes, rate, b.N)
}

// BenchmarkJetStreamIntake is the cluster's throughput with one and with
// two ingest instances.
func BenchmarkJetStreamIntake(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("intakes=%d", n), func(b *testing.B) {
			benchJetStream(b, n)
		})
	}
}
