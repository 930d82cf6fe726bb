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
// a real broker, decode, validation, dedup (with its fsync) and sink,
// to the gateways' acknowledgements. It also reports the CPU time per
// reading of this process (ingest and the gateways' MQTT clients) and,
// if servers is set (the brokers' CPU seconds so far), of the brokers:
// on a shared machine the rate follows the CPU others leave, the CPU
// time per reading much less.
func benchPipeline(b *testing.B, url string, gateways int, batch uint64, servers func() float64) (readingsPerSec float64) {
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
	start, self0 := time.Now(), selfCPU()
	var srv0 float64
	if servers != nil {
		srv0 = servers()
	}
	errs := make(chan error, gateways)
	for i := 0; i < gateways; i++ {
		id := fmt.Sprintf("gw%d", i+1)
		cc := cache[i]
		// Pipelined publishes as edge/uplink's sender, in a window of 8
		// (its default when this benchmark's figures were recorded, 16
		// since): a gateway that waited for each PUBACK would measure the
		// broker's round trip (on NATS, a replicated store), not ingest.
		// On the NATS cluster (servers set) acks at QoS 0, as a gateway's
		// site config there says (uplink.ack_qos: 0).
		g := &ingesttest.Gateway{ID: id, Epoch: 42, Topics: topics, Batch: batch, Window: 8, Pipeline: true,
			ResendAfter: 30 * time.Second, AckQoS0: servers != nil, Payload: func(first, _ uint64) []byte { return cc[first] }}
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
	readings := float64(total * uint64(gateways))
	rate := readings / elapsed.Seconds()
	b.ReportMetric(rate, "readings/s")
	b.ReportMetric((selfCPU()-self0)/readings*1e6, "ingest-cpu-us/reading")
	if servers != nil {
		b.ReportMetric((servers()-srv0)/readings*1e6, "server-cpu-us/reading")
	}
	return rate
}

// selfCPU returns the CPU seconds this process used (0 if unreadable).
func selfCPU() float64 {
	sec, _ := testenv.SelfCPU()
	return sec
}

// procCPU returns the CPU seconds process pid used (0 if unreadable).
func procCPU(pid int) float64 {
	sec, _ := testenv.ProcessCPU(pid)
	return sec
}

// BenchmarkPipelineDiscard is ingest's own throughput (the >= 200k
// readings/s target), with a sink that discards.
func BenchmarkPipelineDiscard(b *testing.B) {
	br := testenv.Mosquitto(b)
	startPipeline(b, pipeOpts{url: br.URL, clientID: "ingest-bench", sink: ingesttest.DiscardSink{}})
	benchPipeline(b, br.URL, 8, 1000, nil)
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
	servers := func() (sec float64) {
		for _, n := range c.Nodes {
			sec += procCPU(n.Pid())
		}
		return sec
	}
	rate := benchPipeline(b, c.Nodes[0].MQTT, gateways, 1000, servers)
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
