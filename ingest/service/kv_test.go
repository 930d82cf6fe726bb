package service_test

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/wire"
)

// instances are ingest instances sharing one dedup bucket, one sink (one
// InfluxDB) and one counting applier (how many times the twins, all
// together, got each reading).
type instances struct {
	svcs    []*service.Service
	regs    []*prometheus.Registry
	stores  []*dedup.KVStore
	sink    *ingesttest.MemSink
	applier *ingesttest.CountingApplier

	mu      sync.Mutex
	badAcks []string
	errs    []error
}

// conflicts is how many batches the instances redid after a conflict.
func (in *instances) conflicts(t *testing.T) float64 {
	var n float64
	for _, r := range in.regs {
		n += metricSum(t, r, "ponte_ingest_dedup_conflicts_total")
	}
	return n
}

func startInstances(t *testing.T, c *natstest.Cluster, bucket string, n int) *instances {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instances{sink: ingesttest.NewMemSink(), applier: ingesttest.NewCountingApplier()}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		for _, s := range in.stores {
			s.Close()
		}
	})
	for range n {
		octx, ocancel := context.WithTimeout(ctx, time.Minute)
		st, err := dedup.OpenKV(octx, dedup.KVConfig{URLs: strings.Split(c.URLs(), ","), Bucket: bucket,
			Timeout: 2 * time.Second, Logger: quiet})
		ocancel()
		if err != nil {
			t.Fatal(err)
		}
		in.stores = append(in.stores, st)
		dl, err := deadletter.Open(deadletter.Config{Dir: t.TempDir(), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		in.regs = append(in.regs, reg)
		svc, err := service.New(service.Config{Sink: in.sink, Applier: in.applier, Dedup: st, DeadLetter: dl,
			Workers: 2, Logger: quiet, Registerer: reg, RetryBase: 10 * time.Millisecond, RetryMax: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		in.svcs = append(in.svcs, svc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc.Run(ctx)
		}()
	}
	return in
}

// submit queues a batch on instance i; done is called once it is
// processed. Every acknowledgement is checked against the sink: each
// reading up to the acknowledged seq must be written.
func (in *instances) submit(i int, gw string, first, last uint64, done func()) {
	j := service.Job{Transport: "test", Topic: wire.Topics{}.Up(gw), Gateway: gw, Payload: ingesttest.BatchFor(gw, 1, first, last)}
	j.Done = func(r service.Result) {
		defer done()
		in.mu.Lock()
		defer in.mu.Unlock()
		if r.Err != nil {
			in.errs = append(in.errs, fmt.Errorf("instance %d, %s %d..%d: %w", i, gw, first, last, r.Err))
			return
		}
		points := in.sink.Points()
		for seq := uint64(1); seq <= r.Ack.Seq; seq++ {
			rd := ingesttest.ReadingFor(seq)
			if _, ok := points[ingesttest.KeyOf(gw, &rd)]; !ok {
				in.badAcks = append(in.badAcks, fmt.Sprintf("%s acknowledged up to %d by instance %d, seq %d not written", gw, r.Ack.Seq, i, seq))
				return
			}
		}
	}
	if err := in.svcs[i].Submit(context.Background(), j); err != nil {
		in.mu.Lock()
		in.errs = append(in.errs, err)
		in.mu.Unlock()
		done()
	}
}

// plan is every batch of the gateways, each sent to one instance or
// (a redelivery) to both, in an order shuffled within windows of four
// batches so that gaps open and fill.
type send struct {
	gw          string
	first, last uint64
	to          []int
}

func plan(rng *rand.Rand, gateways, batches, size int) [][]send {
	out := make([][]send, gateways)
	for g := range gateways {
		gw := fmt.Sprintf("gw.%d", g)
		var s []send
		for k := range batches {
			to := []int{rng.Intn(2)}
			if rng.Intn(10) < 3 {
				to = append(to, 1-to[0])
			}
			s = append(s, send{gw, uint64(k*size + 1), uint64((k + 1) * size), to})
		}
		for w := 0; w < len(s); w += 4 {
			win := s[w:min(w+4, len(s))]
			rng.Shuffle(len(win), func(i, j int) { win[i], win[j] = win[j], win[i] })
		}
		out[g] = s
	}
	return out
}

// run feeds the sends of each gateway from its own goroutine (instances
// thus get batches of one gateway at the same time), calling between
// after half of each gateway's sends, and waits until all are processed.
func (in *instances) run(t *testing.T, p [][]send, between func()) {
	t.Helper()
	var done sync.WaitGroup
	var half, fed sync.WaitGroup
	gate := make(chan struct{})
	for _, sends := range p {
		half.Add(1)
		fed.Add(1)
		go func() {
			defer fed.Done()
			for k, s := range sends {
				if k == len(sends)/2 {
					half.Done()
					<-gate
				}
				for _, i := range s.to {
					done.Add(1)
					in.submit(i, s.gw, s.first, s.last, done.Done)
				}
			}
		}()
	}
	half.Wait()
	if between != nil {
		between()
	}
	close(gate)
	fed.Wait()
	done.Wait()
}

// check asserts every reading of the plan written and applied exactly
// once in all, and the shared mark at the end.
func (in *instances) check(t *testing.T, gateways, batches, size int) {
	t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, e := range in.errs {
		t.Error(e)
	}
	for _, b := range in.badAcks {
		t.Error(b)
	}
	counts := in.applier.Counts()
	n := uint64(batches * size)
	for g := range gateways {
		gw := fmt.Sprintf("gw.%d", g)
		for seq := uint64(1); seq <= n; seq++ {
			if c := counts[ingesttest.SeqKey{Gateway: gw, Epoch: 1, Seq: seq}]; c != 1 {
				t.Errorf("%s seq %d applied %d times, want 1", gw, seq, c)
			}
		}
		for i, st := range in.stores {
			if m, err := st.Mark(context.Background(), gw, 1); err != nil || m != n {
				t.Errorf("%s: instance %d sees mark %d, %v; want %d", gw, i, m, err, n)
			}
		}
	}
	if got, want := in.applier.Total(), gateways*int(n); got != want {
		t.Errorf("%d readings applied in all, want %d", got, want)
	}
	if got, want := in.sink.Len(), gateways*int(n); got != want {
		t.Errorf("%d points in the sink, want %d", got, want)
	}
}

// TestTwoInstancesShareKV: two ingest instances on one dedup bucket of a
// three-node cluster get the batches of the same gateways interleaved,
// out of order and partly both of them (redeliveries), at the same time:
// every reading is applied exactly once in all, and no acknowledgement
// covers a reading not written.
func TestTwoInstancesShareKV(t *testing.T) {
	c := natstest.Start(t, natstest.Options{Nodes: 3})
	const gateways, batches, size = 6, 24, 10
	in := startInstances(t, c, "dedup-two", 2)
	in.run(t, plan(rand.New(rand.NewSource(1)), gateways, batches, size), nil)
	in.check(t, gateways, batches, size)
	// The point of the test: instances did commit over each other.
	if n := in.conflicts(t); n == 0 {
		t.Error("no batch was redone after a conflict: the instances never raced")
	} else {
		t.Logf("%v batches redone after a conflict", n)
	}
}

// TestKVLeaderKilled: as TestTwoInstancesShareKV, with the node leading
// the bucket's stream killed (SIGKILL) halfway: commits go on after the
// failover, nothing is lost or applied twice; the node comes back.
func TestKVLeaderKilled(t *testing.T) {
	c := natstest.Start(t, natstest.Options{Nodes: 3})
	const gateways, batches, size = 4, 20, 10
	in := startInstances(t, c, "dedup-failover", 2)
	js := natstest.JetStream(t, c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	leaderOf := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, "KV_dedup-failover")
		if err != nil {
			return ""
		}
		info := s.CachedInfo()
		if info.Cluster == nil {
			return ""
		}
		return info.Cluster.Leader
	}
	var killed *natstest.Node
	in.run(t, plan(rand.New(rand.NewSource(2)), gateways, batches, size), func() {
		leader := leaderOf()
		for _, n := range c.Nodes {
			if n.Name == leader {
				killed = n
			}
		}
		if killed == nil {
			t.Fatalf("bucket leader %q is none of the nodes", leader)
		}
		killed.Kill()
	})
	if l := leaderOf(); l == killed.Name {
		t.Fatalf("the killed node %s still leads the bucket", l)
	}
	in.check(t, gateways, batches, size)
	killed.Start(t)
}
