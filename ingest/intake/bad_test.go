package intake_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// TestBadPayloadsOverMQTT: malformed, oversized, truncated and forged
// payloads are dead-lettered with their reasons, and the gateway's good
// batches keep flowing.
func TestBadPayloadsOverMQTT(t *testing.T) {
	b := testenv.Mosquitto(t)
	sink := ingesttest.NewMemSink()
	p := startPipeline(t, pipeOpts{url: b.URL, clientID: "ingest-a", sink: sink})
	raw, err := ingesttest.Connect(b.URL, "raw-gw1", "gw1", "x")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Disconnect(50)
	badVersion := ingesttest.BatchFor("gw1", 1, 1, 3)
	badVersion[3] = 7
	payloads := []struct {
		topic   string
		payload []byte
		reason  string
	}{
		{topics.Up("gw1"), []byte("garbage garbage garbage"), service.ReasonCorrupt},
		{topics.Up("gw1"), make([]byte, wire.MaxBatchBytes+100), service.ReasonTooLarge},
		{topics.Up("gw1"), ingesttest.BatchFor("gw1", 1, 1, 50)[:100], service.ReasonCorrupt}, // cut short: the CRC no longer matches
		{topics.Up("gw1"), []byte("PNB"), service.ReasonTruncated},
		{topics.Up("gw1"), badVersion, service.ReasonVersion},
		{topics.Up("gw1"), ingesttest.BatchFor("gw2", 42, 1, 10), service.ReasonGatewayMismatch},
		{topics.Up("gw2"), ingesttest.BatchFor("gw1", 42, 1, 10), service.ReasonGatewayMismatch},
	}
	for _, pl := range payloads {
		if tok := raw.Publish(pl.topic, 1, false, pl.payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	const total = 500
	gws := runGateways(t, b.URL, 1, total, 30*time.Second, nil)
	checkOnce(t, sink.Points(), gws, total, p.applier)
	var letters []deadletter.Letter
	testenv.Eventually(t, 10*time.Second, fmt.Sprintf("%d dead letters", len(payloads)), func() bool {
		letters, _ = deadletter.List(p.dlDir)
		return len(letters) >= len(payloads)
	})
	got := map[string]int{}
	for _, l := range letters {
		got[l.Reason]++
		if l.Transport != "mqtt" || l.Topic == "" {
			t.Errorf("letter without transport/topic: %+v", l)
		}
	}
	want := map[string]int{}
	for _, pl := range payloads {
		want[pl.reason]++
	}
	for r, n := range want {
		if got[r] != n {
			t.Errorf("dead letters %s: %d, want %d (all %v)", r, got[r], n, got)
		}
	}
}
