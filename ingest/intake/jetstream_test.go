package intake_test

import (
	"context"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/ingesttest"
)

// runGatewaysOn runs the gateways ids over MQTT on url, each publishing
// total readings in batches of batch, and fails t unless every reading is
// acknowledged (over MQTT, QoS 1) within limit.
func runGatewaysOn(t testing.TB, url string, ids []string, total, batch uint64, limit time.Duration) []*ingesttest.Gateway {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	errs := make(chan error, len(ids))
	gws := make([]*ingesttest.Gateway, len(ids))
	for i, id := range ids {
		g := &ingesttest.Gateway{ID: id, Epoch: 42, Topics: topics, Batch: batch, ResendAfter: 3 * time.Second}
		gws[i] = g
		c, err := g.Connect(url, "pw-"+id)
		if err != nil {
			t.Fatal(err)
		}
		go func() { defer c.Disconnect(50); errs <- g.Run(ctx, c, total) }()
	}
	for range ids {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	return gws
}

// TestJetStreamTwoIntakes: gateways publish over MQTT on node 1; two
// intakes, connected to nodes 2 and 3, share the durable consumer. Every
// batch reaches the pipeline, every gateway receives its acknowledgements
// over MQTT, and both intakes take part.
func TestJetStreamTwoIntakes(t *testing.T) {
	const gateways, total, batch = 4, 2000, 100
	c := startNATS(t, gateways)
	s1, s2 := newCounting(), newCounting()
	startJS(t, clusterURLs(c, 1), s1, nil)
	startJS(t, clusterURLs(c, 2), s2, nil)
	ids := gatewayIDs(gateways)
	runGatewaysOn(t, c.Nodes[0].MQTT, ids, total, batch, 2*time.Minute)
	extra := checkBatches(t, ids, total, batch, s1, s2)
	n1, n2 := len(s1.counts()), len(s2.counts())
	t.Logf("intake 1 took %d batches, intake 2 %d; %d submitted again (gateway resends)", n1, n2, extra)
	if n1 == 0 || n2 == 0 {
		t.Errorf("one intake did all the work (%d, %d)", n1, n2)
	}
}
