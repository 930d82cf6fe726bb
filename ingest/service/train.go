package service

import (
	"cmp"
	"context"
	"errors"

	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/wire"
)

// maxTrain bounds the batches of one gateway a chain has written or is
// writing and has not committed yet.
const maxTrain = 32

// maxChained bounds the readings of the batches that the chains of every
// worker have taken and not committed: no chain takes a batch once they
// reach it, unless it has none of its own not committed (so that every
// chain goes on). A chain holds each batch decoded, and the sink its
// lines, until it is committed: eight gateways sending batches of 5,000
// in windows of 32 (edge/uplink's replay shape) otherwise had ingest hold
// all eight windows, most of them waiting for room in the sink (ingest/app
// BenchmarkPipelineInflux in that shape: a live heap of 215 MB). It is one
// such window, so that a gateway alone draining its backlog keeps the
// sink's writers busy however many readings share a line (e2e/system
// BenchmarkReplayBacklog: 10 a line, 50,000 a full request of 5,000
// lines); the live shape's windows (16 of 1,000) stay below it with eight
// gateways.
const maxChained = maxTrain * 5000

// maxChain bounds the batches of one chain. A chain holds its gateway's
// dedup state until its last commit (a status message's Release waits for
// it), so after this many it takes no more, its writes end, and the
// gateway's next batches start another.
const maxChain = 8 * maxTrain

// A train is a worker's batches of one gateway: those already queued when
// the worker comes to the first, and those arriving in its queue while
// their writes are in flight. A gateway publishes a window of batches
// (edge/uplink Window) and waits for their acks. Processed one at a time,
// each would wait for its InfluxDB write and its dedup commit before the
// next started: one write of the gateway in flight, a replay draining one
// batch per round trip. Processed a queue's worth at a time, the batches
// arriving during the writes would wait for the last of them, and a few
// gateways at full speed would not keep InfluxDB's writers busy.
//
// So a chain holds the gateway's dedup state from the filter of its first
// batch to the commit of its last, writes each batch as soon as it comes
// (the sink packs the writes of all gateways into full requests), with up
// to maxTrain of them not yet committed (fewer while the chains of all
// workers hold maxChained readings), and each time a write ends
// commits the written batches at its head at once and answers them, in
// order: the same steps and guarantees as Process, batch by batch. An
// acknowledgement never passes a batch whose write has not ended.
//
// Only a chain is taken together: batches of one epoch, each starting
// right after the one before (so no batch can hold another's readings, or
// those of one in flight), none already written in part, and the chain's
// range not yet committed fitting the state's bounds. What follows a chain
// is taken the same way: another chain, or a batch on its own. A chain
// stops reading the worker's queue once it took a job of another gateway
// from it, or one was already held: that job waits for the batches the
// chain has taken (their writes, commits and answers), not for the
// gateway's later ones. Nor does a chain take more than maxChain batches.

// train is a worker's batches of one gateway not processed yet, in order,
// and where more of them arrive.
type train struct {
	cars []*car
	q    chan Job // the worker's queue
	held *[]Job   // jobs the worker took from q for later, in order
}

// take returns the next job for a worker: the oldest held one, or one
// from q.
func take(ctx context.Context, q chan Job, held *[]Job) (Job, bool) {
	if ctx.Err() != nil {
		return Job{}, false
	}
	if len(*held) > 0 {
		j := (*held)[0]
		(*held)[0] = Job{}
		*held = (*held)[1:]
		return j, true
	}
	select {
	case <-ctx.Done():
		return Job{}, false
	case j := <-q:
		return j, true
	}
}

// gather returns j and the jobs of j's gateway already waiting, in their
// order: first those held, then those in q. Jobs of other gateways taken
// from q on the way are appended to held, up to limit of them.
func gather(j Job, q chan Job, held *[]Job, limit int) []Job {
	train := []Job{j}
	rest := (*held)[:0]
	for _, h := range *held {
		if h.Gateway == j.Gateway && len(train) < maxTrain {
			train = append(train, h)
		} else {
			rest = append(rest, h)
		}
	}
	clear((*held)[len(rest):])
	*held = rest
fill:
	for len(train) < maxTrain && len(*held) < limit {
		select {
		case n := <-q:
			if n.Gateway == j.Gateway {
				train = append(train, n)
			} else {
				*held = append(*held, n)
			}
		default:
			break fill // nothing more waiting
		}
	}
	return train
}

// car is one batch of a train.
type car struct {
	j        Job
	received bool        // step 1 ran: b and res are set
	b        *wire.Batch // nil when refused as a whole
	res      Result
	w        *screened
	err      error // of the write
	ended    bool  // the write ended
	dropped  uint64
}

// car returns j as a car of a train. It is counted at once, and decoded
// when the train comes to it (see head): batches waiting behind a chain
// hold their payloads, not their readings.
func (s *Service) car(j Job) *car {
	s.arrived(j)
	return &car{j: j}
}

// head returns the train's first car, received (step 1).
func (t *train) head(s *Service) *car {
	c := t.cars[0]
	if !c.received {
		c.b, c.res = s.decode(c.j)
		c.received = true
	}
	return c
}

// processTrain processes t's batches, all of one gateway, in order, and
// answers each (its Done) as soon as it is final, in order: a chain's
// batches as their commits land.
func (s *Service) processTrain(ctx context.Context, t *train) {
	// chaining: a chain is tried at the next batch; off after a batch that
	// could not start one because it was written before (a gateway
	// resending a window after an ack timeout), so that such batches take
	// the dedup state once each, and on again once one is all fresh.
	chaining := true
	for len(t.cars) > 0 {
		if c := t.head(s); c.b == nil {
			t.cars = t.cars[1:]
			c.j.Done(c.res)
			continue
		}
		if chaining && s.chain(ctx, t) {
			continue
		}
		c := t.cars[0]
		t.cars = t.cars[1:]
		r := s.processBatch(ctx, c.j, c.b, c.res)
		chaining = r.Duplicates == 0
		c.j.Done(r)
	}
}

// chainRun is a chain (see train) being processed.
type chainRun struct {
	s      *Service
	tx     dedup.Tx
	locked bool
	gw     string
	epoch  uint64
	ep     *dedup.Epoch

	taken     int    // batches taken into the chain
	last      uint64 // the last seq taken
	pending   []*car // taken and not answered, in order; their readings count in Service.chained
	inFlight  int    // writes not ended
	ended     chan *car
	open      bool // the chain may take more
	committed int

	failed   error // a write or a commit failed: nothing more is committed
	conflict bool  // another instance committed the state: the rest is redone
}

// chain processes the chain at the head of t.cars, taking the gateway's
// batches arriving in t.q meanwhile, and answers its batches. It returns
// false, having done nothing, when the head cannot start one (processTrain
// then processes it on its own).
func (s *Service) chain(ctx context.Context, t *train) bool {
	head := t.head(s).b
	// 2. Dedup filter under the gateway's state lock, held to the last commit.
	tx, err := s.cfg.Dedup.Lock(ctx, head.Gateway)
	if err != nil {
		return false // processBatch retries it
	}
	c := &chainRun{s: s, tx: tx, locked: true, gw: head.Gateway, epoch: head.Epoch, ep: tx.Epoch(head.Epoch),
		ended: make(chan *car, maxTrain), open: true}
	defer c.unlock()
	// What was not committed (answered by finish) leaves the count last.
	defer func() { s.chained.Add(-readingsOf(c.pending)) }()
	c.extend(ctx, t)
	if c.taken == 0 {
		return false
	}
	for c.inFlight > 0 {
		c.wait(ctx, t)
		c.commit(ctx)
		c.extend(ctx, t)
	}
	c.finish(ctx)
	return true
}

// continues reports whether b can join the chain.
func (c *chainRun) continues(b *wire.Batch) bool {
	if b == nil || len(b.Seqs) == 0 || b.Epoch != c.epoch || (c.taken > 0 && b.Start() != c.last+1) {
		return false // an empty batch is a replay for processBatch
	}
	if fresh := keepFresh(b, c.ep); len(fresh.Readings) != len(b.Readings) {
		return false // written in part already: processBatch sorts it out
	}
	start := b.Start()
	if len(c.pending) > 0 {
		start = c.pending[0].b.Start()
	}
	return c.tx.Fits(c.epoch, start, b.Last(), b.Retained)
}

// extend takes the batches at the head of t that continue the chain, and
// starts their writes, while the chain may take them.
func (c *chainRun) extend(ctx context.Context, t *train) {
	for c.open && len(t.cars) > 0 && c.room() {
		car := t.head(c.s)
		b := car.b
		if c.taken == maxChain || !c.continues(b) {
			c.open = false
			return
		}
		if !c.reserve(len(b.Readings)) {
			return // another chain took the room meanwhile
		}
		t.cars = t.cars[1:]
		c.taken++
		c.last = b.Last()
		c.pending = append(c.pending, car)
		// 3. Screen in order (the series cap admits new devices in their
		// order), then 4: write it while the ones before are in flight.
		car.w = c.s.screenFresh(car.j, b, b)
		c.inFlight++
		go func() {
			car.err = c.s.writeGood(ctx, car.j, car.w)
			c.ended <- car
		}()
	}
}

// room reports whether the chain may take another batch now: none of its
// own not committed, or fewer than maxTrain and fewer readings than
// maxChained in every chain's.
func (c *chainRun) room() bool {
	return len(c.pending) == 0 || (len(c.pending) < maxTrain && c.s.chained.Load() < maxChained)
}

// reserve counts n readings more in the chains' count for a batch the
// chain takes, and reports whether it may: always when the chain has none
// of its own not committed, otherwise only while the count is below
// maxChained (in one step, so that chains taking at once do not pass it
// together).
func (c *chainRun) reserve(n int) bool {
	if len(c.pending) > 0 {
		for {
			cur := c.s.chained.Load()
			if cur >= maxChained {
				return false
			}
			if c.s.chained.CompareAndSwap(cur, cur+int64(n)) {
				break
			}
		}
	} else {
		c.s.chained.Add(int64(n))
	}
	return true
}

// readingsOf returns the readings of cars' batches.
func readingsOf(cars []*car) int64 {
	n := 0
	for _, car := range cars {
		n += len(car.b.Readings)
	}
	return int64(n)
}

// wait blocks until a write ends or, while the chain may grow, a job
// arrives in the worker's queue; it takes every write ended by then.
func (c *chainRun) wait(ctx context.Context, t *train) {
	var q chan Job
	if c.open && len(t.cars) == 0 && len(*t.held) == 0 && c.room() && ctx.Err() == nil {
		q = t.q
	}
	select {
	case car := <-c.ended:
		c.end(car)
	case j := <-q:
		if j.Gateway != c.gw {
			// Its turn comes once this chain's writes end.
			*t.held = append(*t.held, j)
			c.open = false
		} else {
			t.cars = append(t.cars, c.s.car(j))
		}
	}
	for {
		select {
		case car := <-c.ended:
			c.end(car)
		default:
			return
		}
	}
}

func (c *chainRun) end(car *car) {
	car.ended = true
	c.inFlight--
	if car.err != nil {
		c.open = false // nothing from it on is committed: take no more
	}
}

// commit persists the batches at the head of the chain whose writes
// ended (5), in one commit, and answers them (6, 7).
func (c *chainRun) commit(ctx context.Context) {
	if c.failed != nil || c.conflict {
		return
	}
	n := 0
	for n < len(c.pending) && c.pending[n].ended && c.pending[n].err == nil {
		n++
	}
	if n < len(c.pending) && c.pending[n].ended {
		// Its write failed (the service is stopping): it and what follows
		// are not committed (the gateway sends them again; what reached
		// InfluxDB is then written again, the same points).
		c.failed = c.pending[n].err
		c.open = false
	}
	if n == 0 {
		return
	}
	first, last := c.pending[0].b, c.pending[n-1].b
	if !c.tx.Fits(c.epoch, first.Start(), last.Last(), last.Retained) {
		// The chain fits the state's bounds by joining a range beyond its
		// written part, which alone does not: wait for the rest (or, after
		// a failed write, commit none of it).
		return
	}
	s, done := c.s, c.pending[:n]
	if s.cfg.ApplyBeforeCommit {
		for _, car := range done {
			s.apply(car.b, car.w.good, true) // 6 before 5 (see Config.ApplyBeforeCommit)
		}
	}
	for _, car := range done {
		car.dropped = c.tx.Add(c.epoch, car.b.Start(), car.b.Last(), car.b.Retained, s.cfg.Now())
	}
	err := s.retry(ctx, "persist dedup state", func() error { return c.tx.Commit(ctx) })
	switch {
	case errors.Is(err, dedup.ErrConflict):
		// Another instance changed the state: finish redoes the batches
		// from the dedup filter as Process does, keeping what was written.
		s.m.dedupConflicts.Inc()
		c.conflict, c.open = true, false
		return
	case err != nil:
		c.failed, c.open = err, false
		return
	}
	for _, car := range done {
		if car.dropped > 0 {
			s.droppedByGateway(c.gw, c.epoch, car.dropped, c.ep)
		}
		if !s.cfg.ApplyBeforeCommit {
			s.apply(car.b, car.w.good, false)
		}
		car.res = s.written(car.b, car.w.good, car.w, car.res, c.ep.Mark)
	}
	// The gap shows (Gaps, /status) before the gateway has the ack, and
	// the batches leave the chains' count before too.
	s.noteGap(c.gw, c.epoch, c.ep)
	s.chained.Add(-readingsOf(done))
	for _, car := range done {
		car.j.Done(car.res)
	}
	c.committed += n
	clear(done)
	c.pending = c.pending[n:]
}

// finish answers, once every write ended, what the chain did not commit.
func (c *chainRun) finish(ctx context.Context) {
	s := c.s
	if c.committed > 1 {
		s.m.trains.Observe(float64(c.committed))
	}
	if len(c.pending) == 0 {
		return
	}
	c.unlock()
	var failed error
	for _, car := range c.pending {
		if failed == nil && car.err != nil {
			failed = car.err
		}
		switch {
		case failed != nil:
			s.m.batches.WithLabelValues("error").Inc()
			car.j.Done(Result{Err: failed})
		case c.conflict:
			car.j.Done(s.redo(ctx, car.j, car.b, car.res, car.w))
		default:
			// Written, not committed: the commit failed, or the written
			// part alone did not fit the state's bounds.
			s.m.batches.WithLabelValues("error").Inc()
			car.j.Done(Result{Err: cmp.Or(c.failed, errNotCommitted)})
		}
	}
}

// errNotCommitted answers batches of a chain written and not committed
// for want of a fitting commit. A safeguard: continues takes a batch only
// if the chain's uncommitted range fits the state, which only the chain's
// own commits change, so once every write succeeded the last commit fits.
var errNotCommitted = errors.New("batch written but not committed (the dedup state's bounds); the gateway sends it again")

func (c *chainRun) unlock() {
	if c.locked {
		c.locked = false
		c.tx.Unlock()
	}
}
