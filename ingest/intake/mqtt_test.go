package intake_test

import (
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/testenv"
)

func TestMQTTEndToEnd(t *testing.T) {
	b := testenv.Mosquitto(t)
	sink := ingesttest.NewMemSink()
	p := startPipeline(t, pipeOpts{url: b.URL, clientID: "ingest-a", sink: sink})
	const total = 3000
	gws := runGateways(t, b.URL, 3, total, 60*time.Second, nil)
	checkOnce(t, sink.Points(), gws, total, p.applier)
}

// TestSinkOutageUnderLoad: the sink goes down while gateways publish, stays
// down, and comes back; every reading ends up written and applied once.
func TestSinkOutageUnderLoad(t *testing.T) {
	b := testenv.Mosquitto(t)
	sink := ingesttest.NewMemSink()
	p := startPipeline(t, pipeOpts{url: b.URL, clientID: "ingest-a", sink: sink})
	const total = 6000
	go func() {
		for sink.Len() < 1000 {
			time.Sleep(5 * time.Millisecond)
		}
		sink.SetDown(true)
		time.Sleep(4 * time.Second) // longer than the gateways' resend interval
		sink.SetDown(false)
	}()
	gws := runGateways(t, b.URL, 2, total, 90*time.Second, func(g *ingesttest.Gateway) { g.Batch = 50 })
	checkOnce(t, sink.Points(), gws, total, p.applier)
	resent := 0
	for _, g := range gws {
		resent += g.Sent() - total/50
	}
	t.Logf("gateways resent %d batches during the outage", resent)
	if resent == 0 {
		t.Error("no batch was resent: the outage did not exercise replays")
	}
}

// TestBrokerRestart: Mosquitto is killed and restarted mid-stream.
func TestBrokerRestart(t *testing.T) {
	b := testenv.Mosquitto(t)
	sink := ingesttest.NewMemSink()
	p := startPipeline(t, pipeOpts{url: b.URL, clientID: "ingest-a", sink: sink})
	const total = 6000
	go func() {
		for sink.Len() < 2000 {
			time.Sleep(5 * time.Millisecond)
		}
		b.Restart(500 * time.Millisecond)
	}()
	gws := runGateways(t, b.URL, 2, total, 90*time.Second, func(g *ingesttest.Gateway) { g.Batch = 50 })
	checkOnce(t, sink.Points(), gws, total, p.applier)
}

// TestTwoInstancesShare: two ingest instances in one share group, with one
// state directory, split the batches; both take part and nothing is lost
// or doubled, in InfluxDB or in the twins taken together.
func TestTwoInstancesShare(t *testing.T) {
	b := testenv.Mosquitto(t)
	sink := ingesttest.NewMemSink() // one InfluxDB behind both
	state := t.TempDir()
	p1 := startPipeline(t, pipeOpts{url: b.URL, clientID: "ingest-a", sink: sink, stateDir: state})
	p2 := startPipeline(t, pipeOpts{url: b.URL, clientID: "ingest-b", sink: sink, stateDir: state})
	const total = 4000
	gws := runGateways(t, b.URL, 4, total, 60*time.Second, nil)
	checkOnce(t, sink.Points(), gws, total, p1.applier, p2.applier)
	n1, n2 := p1.applier.Total(), p2.applier.Total()
	t.Logf("instance a applied %d readings, b %d", n1, n2)
	if n1 == 0 || n2 == 0 {
		t.Errorf("one instance did all the work (a %d, b %d)", n1, n2)
	}
}
