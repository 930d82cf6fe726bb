package replica_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ponte-city/ponte/ingest/replica"
	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
)

// TestLeaderKilled: the node leading the applied stream is killed with
// SIGKILL while two instances publish; every batch is stored once and
// every twin applies every reading once.
func TestLeaderKilled(t *testing.T) {
	c := natstest.Start(t, natstest.Options{Nodes: 3})
	a, b := start(t, c, "a"), start(t, c, "b")
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	const perGateway = 60

	js := natstest.JetStream(t, c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	info := func() *jetstream.StreamInfo {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, replica.DefaultStream)
		if err != nil {
			return nil
		}
		i, err := s.Info(ctx)
		if err != nil {
			return nil
		}
		return i
	}

	var published atomic.Int64
	var wg sync.WaitGroup
	for g, gw := range gateways {
		in := a
		if g%2 == 1 {
			in = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perGateway {
				in.r.Apply(gw, 1, batch(gw, i, base))
				published.Add(1)
			}
		}()
	}
	total := int64(len(gateways) * perGateway)
	testenv.Eventually(t, time.Minute, "a third of the batches published", func() bool { return published.Load() >= total/3 })
	i := info()
	if i == nil || i.Cluster == nil {
		t.Fatal("no stream info")
	}
	var killed *natstest.Node
	for _, n := range c.Nodes {
		if n.Name == i.Cluster.Leader {
			killed = n
		}
	}
	if killed == nil {
		t.Fatalf("leader %q is none of the nodes", i.Cluster.Leader)
	}
	killed.Kill()
	wg.Wait()
	killed.Start(t)

	testenv.Eventually(t, 2*time.Minute, "both twins at the stream's end", func() bool {
		return a.tw.Applied() == uint64(total) && b.tw.Applied() == uint64(total)
	})
	if i := info(); i == nil || i.State.Msgs != uint64(total) {
		t.Fatalf("stream holds %+v, want %d messages", i, total)
	}
	want := float64(total * devices)
	for name, in := range map[string]*instance{"a": a, "b": b} {
		if good, late := readings(in.reg); good != want || late != 0 {
			t.Errorf("twin %s: %v good and %v late readings, want %v and 0 (each once)", name, good, late, want)
		}
	}
	t.Logf("publishes retried: a %v, b %v", counter(a.reg, "ponte_ingest_replica_publish_retries_total"), counter(b.reg, "ponte_ingest_replica_publish_retries_total"))
	if sa, sb := state(t, a.tw), state(t, b.tw); sa != sb {
		t.Fatalf("twins differ:\nA %s\nB %s", sa, sb)
	}
}
