package service_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/wire"
)

// gateSink holds each Write until want writes are in flight at once (or,
// should they never be, a while), each time, and records the most seen at once.
type gateSink struct {
	*ingesttest.MemSink
	want int

	mu       sync.Mutex
	inflight int
	most     int
	open     chan struct{}
}

func (g *gateSink) Write(ctx context.Context, gw string, rs []wire.Reading) ([]service.Rejected, error) {
	g.mu.Lock()
	g.inflight++
	g.most = max(g.most, g.inflight)
	open := g.open
	if g.inflight == g.want {
		close(g.open)
		g.open = make(chan struct{}) // for the next train
	}
	g.mu.Unlock()
	select {
	case <-open:
	case <-time.After(5 * time.Second): // only when the writes come one by one
	case <-ctx.Done():
	}
	defer func() {
		g.mu.Lock()
		g.inflight--
		g.mu.Unlock()
	}()
	return g.MemSink.Write(ctx, gw, rs)
}

// A gateway's batches waiting in its worker's queue are written at once
// and acknowledged in order; another gateway's batches taken from the
// queue meanwhile keep their own order.
func TestTrainWritesQueuedBatchesAtOnce(t *testing.T) {
	const batches, size = 8, 50
	sink := &gateSink{MemSink: ingesttest.NewMemSink(), want: batches, open: make(chan struct{})}
	app := &orderApplier{last: map[string]uint64{}}
	e := newEnv(t, func(c *service.Config) { c.Sink = sink; c.Applier = app; c.Workers = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var mu sync.Mutex
	results := map[string][]service.Result{}
	var wg sync.WaitGroup
	for i := range uint64(batches) {
		for _, gw := range []string{"gw-a", "gw-b"} {
			j := job(gw, batch(gw, 1, i*size+1, (i+1)*size))
			wg.Add(1)
			j.Done = func(r service.Result) {
				mu.Lock()
				results[gw] = append(results[gw], r)
				mu.Unlock()
				wg.Done()
			}
			// Queued before Run: the worker finds them all waiting.
			if err := e.svc.Submit(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
	}
	go e.svc.Run(ctx)
	wg.Wait()

	if sink.most != batches {
		t.Errorf("at most %d writes in flight at once, want the %d batches of a gateway", sink.most, batches)
	}
	for _, gw := range []string{"gw-a", "gw-b"} {
		rs := results[gw]
		if len(rs) != batches {
			t.Fatalf("%s: %d results, want %d", gw, len(rs), batches)
		}
		for i, r := range rs {
			if r.Err != nil || r.Written != size || r.Ack.Seq != batches*size {
				t.Errorf("%s batch %d: err %v, written %d, ack %d; want written %d, ack %d",
					gw, i, r.Err, r.Written, r.Ack.Seq, size, batches*size)
			}
		}
	}
	if sink.Len() != 2*batches*size {
		t.Errorf("sink holds %d points, want %d", sink.Len(), 2*batches*size)
	}
	if len(app.bad) > 0 || app.n != 2*batches*size {
		t.Errorf("applied %d readings, out of order: %v", app.n, app.bad)
	}
	if h := gather(t, e.reg, "ponte_ingest_train_batches"); len(h) != 1 ||
		h[0].GetHistogram().GetSampleCount() != 2 || h[0].GetHistogram().GetSampleSum() != 2*batches {
		t.Errorf("trains observed: %v, want 2 of %d batches", h, batches)
	}
}

// step is one payload of a gateway in TestTrainMatchesOneByOne.
type step struct {
	gw      string
	payload []byte
}

// randomSteps returns payloads of gateways as a link that cuts, resends
// and restarts would deliver them: mostly consecutive batches, with
// resends of earlier ranges, overlaps, gaps, a new epoch, and garbage.
func randomSteps(r *rand.Rand, gateways []string, n int) []step {
	type pos struct{ epoch, next uint64 }
	at := map[string]*pos{}
	for _, gw := range gateways {
		at[gw] = &pos{epoch: 1, next: 1}
	}
	var out []step
	for range n {
		gw := gateways[r.IntN(len(gateways))]
		p := at[gw]
		size := uint64(1 + r.IntN(30))
		switch k := r.IntN(20); {
		case k == 0:
			out = append(out, step{gw, []byte("not a batch")})
		case k == 1 && p.next > 1: // a resend of something already sent
			first := 1 + r.Uint64N(p.next-1)
			out = append(out, step{gw, batch(gw, p.epoch, first, min(first+size, p.next-1))})
		case k == 2 && p.next > 2: // overlapping the last one
			first := p.next - 1 - r.Uint64N(min(p.next-1, 5))
			out = append(out, step{gw, batch(gw, p.epoch, first, p.next+size)})
			p.next += size + 1
		case k == 3: // a gap, filled later or never
			p.next += uint64(1 + r.IntN(10))
			out = append(out, step{gw, batch(gw, p.epoch, p.next, p.next+size-1)})
			p.next += size
		case k == 4: // the gateway restarted with a new epoch
			p.epoch++
			p.next = 1
			out = append(out, step{gw, batch(gw, p.epoch, 1, size)})
			p.next += size
		default:
			out = append(out, step{gw, batch(gw, p.epoch, p.next, p.next+size-1)})
			p.next += size
		}
	}
	return out
}

// A train changes nothing but how many batches are written at once: for
// any sequence of payloads (and readings the sink refuses), what is
// written, dead-lettered, counted as a duplicate or deferred per batch and
// what the twin is given are those of processing them one by one; each ack
// is at least the one-by-one ack, and the last (the mark stored) is the
// same. Trains meet a lost compare-and-swap (ErrConflict) on every third
// commit, and half the seeds apply before the commit (HA mode).
func TestTrainMatchesOneByOne(t *testing.T) {
	gateways := []string{"gw-a", "gw-b", "gw-c"}
	var chained uint64
	for seed := range uint64(16) {
		// Half the seeds apply to the twin before the commit (HA mode).
		before := seed%2 == 1
		t.Run(fmt.Sprintf("seed%d/apply_before_commit=%t", seed, before), func(t *testing.T) {
			steps := randomSteps(rand.New(rand.NewPCG(seed, 17)), gateways, 120)

			// The sink refuses some readings (dead-lettered from the batch).
			reject := func(r *wire.Reading) string {
				if r.Time.UnixMilli()%13 == 0 {
					return "refused by the test"
				}
				return ""
			}
			one := newEnv(t, func(c *service.Config) { c.ApplyBeforeCommit = before })
			one.sink.Reject = reject
			var want []service.Result
			for _, s := range steps {
				want = append(want, one.svc.Process(context.Background(), job(s.gw, s.payload)))
			}

			// Every third commit meets another instance's (ErrConflict, as
			// the NATS key-value store reports it): redone from the filter.
			trains := newEnv(t, func(c *service.Config) {
				c.Workers, c.QueueLen, c.ApplyBeforeCommit = 1, len(steps), before
				c.Dedup = &conflictStore{Store: c.Dedup, every: 3}
			})
			trains.sink.Reject = reject
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := make([]service.Result, len(steps))
			var order []int
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i, s := range steps {
				j := job(s.gw, s.payload)
				wg.Add(1)
				j.Done = func(r service.Result) {
					mu.Lock()
					got[i] = r
					order = append(order, i)
					mu.Unlock()
					wg.Done()
				}
				if err := trains.svc.Submit(ctx, j); err != nil {
					t.Fatal(err)
				}
			}
			go trains.svc.Run(ctx)
			wg.Wait()
			for _, h := range gather(t, trains.reg, "ponte_ingest_train_batches") {
				chained += h.GetHistogram().GetSampleCount()
			}

			last := map[string]int{}
			for _, i := range order {
				if p, ok := last[steps[i].gw]; ok && p > i {
					t.Errorf("%s: step %d answered after step %d", steps[i].gw, i, p)
				}
				last[steps[i].gw] = i
			}
			for i := range steps {
				g, w := got[i], want[i]
				if (g.Err == nil) != (w.Err == nil) || g.Written != w.Written || g.Duplicates != w.Duplicates ||
					g.DeadLettered != w.DeadLettered || g.Deferred != w.Deferred || g.HasAck != w.HasAck || g.Ack.Epoch != w.Ack.Epoch {
					t.Fatalf("step %d (%s): trains %+v, one by one %+v", i, steps[i].gw, g, w)
				}
				if g.Ack.Seq < w.Ack.Seq {
					t.Errorf("step %d (%s): ack %d below the one-by-one %d", i, steps[i].gw, g.Ack.Seq, w.Ack.Seq)
				}
			}
			for _, gw := range gateways {
				i := last[gw]
				if g, w := got[i].Ack, want[i].Ack; g.Seq != w.Seq || g.Epoch != w.Epoch {
					t.Errorf("%s: last ack %+v, one by one %+v", gw, got[i].Ack, want[i].Ack)
				}
			}
			if g, w := trains.sink.Points(), one.sink.Points(); len(g) != len(w) {
				t.Errorf("sink holds %d points, one by one %d", len(g), len(w))
			} else {
				for k := range w {
					if _, ok := g[k]; !ok {
						t.Fatalf("point %v written one by one, not by trains", k)
					}
				}
			}
			if g, w := trains.applier.Counts(), one.applier.Counts(); len(g) != len(w) {
				t.Errorf("twin given %d readings, one by one %d", len(g), len(w))
			} else {
				for k, n := range g {
					// Applied before the commit, a batch redone after a lost
					// compare-and-swap is given again (Config.ApplyBeforeCommit:
					// the Applier applies it once); otherwise exactly once.
					if w[k] != 1 || n < 1 || (n > 1 && !before) {
						t.Fatalf("reading %v given to the twin %d times (one by one %d)", k, n, w[k])
					}
				}
			}
		})
	}
	if chained == 0 {
		t.Error("no train formed: the sequences did not test them")
	}
}

// conflictStore fails every every-th Commit with dedup.ErrConflict,
// storing nothing, as a state changed by another instance would.
type conflictStore struct {
	dedup.Store
	every   int
	commits atomic.Int64
}

func (s *conflictStore) Lock(ctx context.Context, gw string) (dedup.Tx, error) {
	tx, err := s.Store.Lock(ctx, gw)
	if err != nil {
		return nil, err
	}
	return &conflictTx{Tx: tx, s: s}, nil
}

type conflictTx struct {
	dedup.Tx
	s *conflictStore
}

func (tx *conflictTx) Commit(ctx context.Context) error {
	if tx.s.commits.Add(1)%int64(tx.s.every) == 0 {
		return fmt.Errorf("test: %w", dedup.ErrConflict)
	}
	return tx.Tx.Commit(ctx)
}
