package service_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/internal/testenv"
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
// and answered in order; another gateway's batches taken from the
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
		// Each commit covers the batches whose writes ended by then: the
		// acks grow to the last seq, each at least its own batch's.
		for i, r := range rs {
			if r.Err != nil || r.Written != size || r.Ack.Seq < uint64(i+1)*size || (i > 0 && r.Ack.Seq < rs[i-1].Ack.Seq) {
				t.Errorf("%s batch %d: err %v, written %d, ack %d; want written %d, ack from %d, not below the last",
					gw, i, r.Err, r.Written, r.Ack.Seq, size, (i+1)*size)
			}
		}
		if last := rs[batches-1].Ack.Seq; last != batches*size {
			t.Errorf("%s: last ack %d, want %d", gw, last, batches*size)
		}
	}
	if sink.Len() != 2*batches*size {
		t.Errorf("sink holds %d points, want %d", sink.Len(), 2*batches*size)
	}
	if len(app.bad) > 0 || app.n != 2*batches*size {
		t.Errorf("applied %d readings, out of order: %v", app.n, app.bad)
	}
	// A chain is observed once its last write ended, after its answers.
	testenv.Eventually(t, 10*time.Second, fmt.Sprintf("2 trains of %d batches observed", batches), func() bool {
		h := gather(t, e.reg, "ponte_ingest_train_batches")
		return len(h) == 1 && h[0].GetHistogram().GetSampleCount() == 2 && h[0].GetHistogram().GetSampleSum() == 2*batches
	})
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
			// The sink's writes take random times, so a chain's writes end
			// out of order.
			trains := newEnv(t, func(c *service.Config) {
				c.Workers, c.QueueLen, c.ApplyBeforeCommit = 1, len(steps), before
				c.Dedup = &conflictStore{Store: c.Dedup, every: 3}
				c.Sink = &jitterSink{Sink: c.Sink, r: rand.New(rand.NewPCG(seed, 19))}
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
					// Readings are keyed by seq, not epoch: only epoch 1's acks
					// are checked (answered in order, before any later epoch
					// of the gateway is written).
					if seq := unwritten(trains.sink, s.gw, r.Ack.Seq, reject); r.Ack.Epoch == 1 && seq != 0 {
						t.Errorf("step %d (%s): ack %d given before seq %d was written", i, s.gw, r.Ack.Seq, seq)
					}
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

// jitterSink is a sink whose writes take 0 to 300 us more, at random.
type jitterSink struct {
	service.Sink
	mu sync.Mutex
	r  *rand.Rand
}

func (j *jitterSink) Write(ctx context.Context, gw string, rs []wire.Reading) ([]service.Rejected, error) {
	j.mu.Lock()
	d := time.Duration(j.r.IntN(300)) * time.Microsecond
	j.mu.Unlock()
	time.Sleep(d)
	return j.Sink.Write(ctx, gw, rs)
}

// unwritten returns the first seq up to ack (readings of
// ingesttest.ReadingFor) that sink does not hold and reject does not
// refuse, 0 if none.
func unwritten(sink *ingesttest.MemSink, gw string, ack uint64, reject func(*wire.Reading) string) uint64 {
	points := sink.Points()
	for s := uint64(1); s <= ack; s++ {
		r := ingesttest.ReadingFor(s)
		if _, ok := points[ingesttest.KeyOf(gw, &r)]; !ok && reject(&r) == "" {
			return s
		}
	}
	return 0
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

// heldSink holds each Write until the test releases it, by the first seq
// of its readings, and records the writes started and the seqs written.
type heldSink struct {
	*ingesttest.MemSink
	mu      sync.Mutex
	gates   map[uint64]chan struct{}
	started []uint64        // first seqs of the writes started, in order
	ended   map[uint64]bool // seqs whose write ended
}

func newHeldSink() *heldSink {
	return &heldSink{MemSink: ingesttest.NewMemSink(), gates: map[uint64]chan struct{}{}, ended: map[uint64]bool{}}
}

// seqOf returns the seq of a reading made by ingesttest.ReadingFor.
func seqOf(r *wire.Reading) uint64 { return uint64(r.Time.Sub(ingesttest.Base) / time.Millisecond) }

// gate returns the gate of the write starting at first; h.mu is held.
func (h *heldSink) gate(first uint64) chan struct{} {
	g := h.gates[first]
	if g == nil {
		g = make(chan struct{})
		h.gates[first] = g
	}
	return g
}

func (h *heldSink) Write(ctx context.Context, gw string, rs []wire.Reading) ([]service.Rejected, error) {
	h.mu.Lock()
	first := seqOf(&rs[0])
	h.started = append(h.started, first)
	g := h.gate(first)
	h.mu.Unlock()
	select {
	case <-g:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	rej, err := h.MemSink.Write(ctx, gw, rs)
	h.mu.Lock()
	for i := range rs {
		h.ended[seqOf(&rs[i])] = true
	}
	h.mu.Unlock()
	return rej, err
}

// release lets the write starting at first go on.
func (h *heldSink) release(first uint64) {
	h.mu.Lock()
	close(h.gate(first))
	h.mu.Unlock()
}

// startedWrites returns the first seqs of the writes started, in order.
func (h *heldSink) startedWrites() []uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.started)
}

// written reports whether the writes of seqs from to last all ended.
func (h *heldSink) written(from, last uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := from; s <= last; s++ {
		if !h.ended[s] {
			return false
		}
	}
	return true
}

// A gateway's batch arriving while the writes of its earlier ones are in
// flight is written at once, not after them (the gateway's window is in
// ingest together); and an answer never acknowledges a batch whose write
// has not ended, however the writes end.
func TestChainWritesBatchesArrivingDuringItsWrites(t *testing.T) {
	const batches, size = 8, 10
	sink := newHeldSink()
	e := newEnv(t, func(c *service.Config) { c.Sink = sink; c.Workers = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.svc.Run(ctx)

	type answer struct {
		i       int
		r       service.Result
		written bool // every seq the ack covers was written when it was given
	}
	answers := make(chan answer, batches)
	for i := range batches {
		first := uint64(i*size + 1)
		j := job("gw-a", batch("gw-a", 1, first, first+size-1))
		j.Done = func(r service.Result) { answers <- answer{i, r, sink.written(1, r.Ack.Seq)} }
		if err := e.svc.Submit(ctx, j); err != nil {
			t.Fatal(err)
		}
		// The gateway sends its next batch while this one's write is held.
		testenv.Eventually(t, 10*time.Second, fmt.Sprintf("the write of batch %d to start while %d are held", i, i),
			func() bool { return len(sink.startedWrites()) == i+1 })
	}
	// The last written first: the first to end must not be answered
	// before the batches before it are written.
	for i := batches - 1; i > 0; i-- {
		sink.release(uint64(i*size + 1))
	}
	testenv.Eventually(t, 10*time.Second, "the writes of batches 1 to 7 to end",
		func() bool { return sink.written(size+1, batches*size) })
	sink.release(1)

	for want := range batches {
		a := <-answers
		if a.i != want || a.r.Err != nil || a.r.Written != size || !a.written || a.r.Ack.Seq < uint64(want+1)*size {
			t.Errorf("answer %d: batch %d, %+v, every acknowledged seq written: %t; want batch %d written and acknowledged",
				want, a.i, a.r, a.written, want)
		}
		if want == batches-1 && a.r.Ack.Seq != batches*size {
			t.Errorf("last ack %d, want %d", a.r.Ack.Seq, batches*size)
		}
	}
	testenv.Eventually(t, 10*time.Second, fmt.Sprintf("a train of %d batches observed", batches), func() bool {
		h := gather(t, e.reg, "ponte_ingest_train_batches")
		return len(h) == 1 && h[0].GetHistogram().GetSampleCount() == 1 && h[0].GetHistogram().GetSampleSum() == batches
	})
}

// The chains of every worker take no batch once the batches they have
// not committed carry 160,000 readings, unless a chain has none of its
// own; a committed batch's readings leave that count. With batches of
// 10,000: one gateway writes sixteen at once; a second gateway on another
// worker then writes its first only, and its second once its first is
// committed, not when the first gateway's first is; with everything
// committed, the first gateway alone writes sixteen at once again.
func TestChainsShareABoundOnReadings(t *testing.T) {
	const size = 10_000
	sink := newHeldSink()
	e := newEnv(t, func(c *service.Config) { c.Sink = sink; c.Workers = 2 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Two gateways on different workers (Submit spreads them by FNV-1a).
	worker := func(gw string) uint32 { h := fnv.New32a(); h.Write([]byte(gw)); return h.Sum32() % 2 }
	gw1, gw2 := "gw-a", ""
	for i := 0; gw2 == ""; i++ {
		if gw := fmt.Sprintf("gw-%d", i); worker(gw) != worker(gw1) {
			gw2 = gw
		}
	}
	answers := make(chan service.Result, 64)
	// send queues n batches of gw from seq first on, their writes held.
	send := func(gw string, first uint64, n int) {
		for i := range n {
			from := first + uint64(i*size)
			j := job(gw, batch(gw, 1, from, from+size-1))
			j.Done = func(r service.Result) {
				if r.Err != nil || r.Written != size {
					t.Errorf("%s batch from %d: %+v", gw, from, r)
				}
				answers <- r
			}
			if err := e.svc.Submit(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
	}
	started := func(n int) []uint64 {
		testenv.Eventually(t, 10*time.Second, fmt.Sprintf("%d writes to start", n), func() bool { return len(sink.startedWrites()) >= n })
		return sink.startedWrites()
	}
	const second = 1_000_001 // gw2's first seq
	send(gw1, 1, 17)
	go e.svc.Run(ctx)
	started(16)
	send(gw2, second, 3)
	if got := started(17); len(got) != 17 || got[16] != second {
		t.Fatalf("writes started %v, want gw1's first 16 and gw2's first", got)
	}
	sink.release(1)
	<-answers
	sink.release(second)
	<-answers
	if got := started(18); len(got) != 18 || got[17] != second+size {
		t.Fatalf("writes started %v once a batch of each gateway was committed, want gw2's second only after them", got)
	}
	for i := 1; i < 17; i++ {
		sink.release(uint64(1 + i*size))
	}
	sink.release(second + size)
	sink.release(second + 2*size)
	for range 18 {
		<-answers
	}

	// All committed: gw1 alone has the whole bound again.
	send(gw1, 1+17*size, 17)
	if got := started(20 + 16); len(got) != 20+16 {
		t.Fatalf("%d writes started after the first 20, want 16", len(got)-20)
	}
	for i := range 17 {
		sink.release(uint64(1 + (17+i)*size))
	}
	for range 17 {
		<-answers
	}
}

// A chain takes no more batches once a job of another gateway waits in
// its worker: that job waits only for the chain's writes in flight, not
// for the gateway's later batches.
func TestChainMakesWayForAnotherGateway(t *testing.T) {
	sink := newHeldSink()
	e := newEnv(t, func(c *service.Config) { c.Sink = sink; c.Workers = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.svc.Run(ctx)

	var answered sync.WaitGroup
	submit := func(gw string, first uint64) {
		j := job(gw, batch(gw, 1, first, first+9))
		answered.Add(1)
		j.Done = func(r service.Result) {
			if r.Err != nil || r.Written != 10 {
				t.Errorf("%s batch from %d: %+v", gw, first, r)
			}
			answered.Done()
		}
		if err := e.svc.Submit(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	submit("gw-a", 1)
	testenv.Eventually(t, 10*time.Second, "gw-a's first write to start", func() bool { return len(sink.startedWrites()) == 1 })
	submit("gw-b", 1001)
	submit("gw-a", 11)
	sink.release(1)
	testenv.Eventually(t, 10*time.Second, "a second write to start", func() bool { return len(sink.startedWrites()) == 2 })
	sink.release(1001)
	sink.release(11)
	answered.Wait()
	if got := sink.startedWrites(); !slices.Equal(got, []uint64{1, 1001, 11}) {
		t.Errorf("writes started from seqs %v, want gw-b's (1001) before gw-a's next (11)", got)
	}
}
