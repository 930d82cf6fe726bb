package service

import (
	"context"
	"errors"
	"sync"

	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/wire"
)

// maxTrain bounds the batches of one gateway processed as a train.
const maxTrain = 32

// A train is consecutive batches of one gateway already queued when its
// worker comes to the first: a gateway draining a backlog publishes a
// window of them (edge/uplink Window) and waits for their acks. Processed
// one at a time, each waits for its InfluxDB write and its dedup commit
// before the next starts, so a replay drains one batch per round trip.
// A train holds the gateway's dedup state from the filter of its first
// batch to one commit after its last, writes its batches to the sink at
// once (the sink packs them into full requests), and answers them in
// order: the same steps and guarantees as Process, batch by batch.
//
// Only a chain is taken together: batches of one epoch, each starting
// right after the one before (so no batch can hold another's readings),
// none already written in part, and the chain's whole range fitting the
// state's bounds. What follows a chain is taken the same way: another
// chain, or a batch on its own.

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

// processTrain processes jobs, all of one gateway, in order, and answers
// each (its Done) as soon as it is final, in order: a chain's batches once
// the chain is committed, not when the whole train is done.
func (s *Service) processTrain(ctx context.Context, jobs []Job) {
	if len(jobs) == 1 {
		jobs[0].Done(s.Process(ctx, jobs[0]))
		return
	}
	out := make([]Result, len(jobs))
	cars := make([]car, len(jobs))
	for i, j := range jobs {
		cars[i].j = j
		cars[i].b, cars[i].res = s.receive(j)
	}
	// chaining: a chain is tried at the next batch; off after a batch that
	// could not start one because it was written before (a gateway
	// resending a window after an ack timeout), so that such batches take
	// the dedup state once each, and on again once one is all fresh.
	chaining := true
	for i := 0; i < len(cars); {
		if cars[i].b == nil {
			jobs[i].Done(cars[i].res)
			i++
			continue
		}
		if chaining {
			if n := s.chain(ctx, cars[i:], out[i:]); n > 0 {
				for k := i; k < i+n; k++ {
					jobs[k].Done(out[k])
				}
				i += n
				continue
			}
		}
		r := s.processBatch(ctx, cars[i].j, cars[i].b, cars[i].res)
		chaining = r.Duplicates == 0
		jobs[i].Done(r)
		i++
	}
}

// car is one received batch of a train.
type car struct {
	j   Job
	b   *wire.Batch // nil when refused as a whole
	res Result
	w   *screened
	err error
}

// chain processes the longest chain (see train) at the head of cars, if it
// has at least two batches, puts their results in out and returns how
// many it took: 0 when there is none (the head is processed on its own).
func (s *Service) chain(ctx context.Context, cars []car, out []Result) int {
	n := 1
	for n < len(cars) && n < maxTrain {
		b, prev := cars[n].b, cars[n-1].b
		if b == nil || b.Epoch != prev.Epoch || b.Start() != prev.Last()+1 {
			break
		}
		n++
	}
	if n < 2 {
		return 0
	}
	cars = cars[:n]

	// 2. Dedup filter under the gateway's state lock, held to the commit.
	gw, epoch := cars[0].b.Gateway, cars[0].b.Epoch
	tx, err := s.cfg.Dedup.Lock(ctx, gw)
	if err != nil {
		return 0 // processBatch retries it
	}
	unlocked := false
	unlock := func() {
		if !unlocked {
			unlocked = true
			tx.Unlock()
		}
	}
	defer unlock()
	ep := tx.Epoch(epoch)
	for i := range cars {
		if fresh := keepFresh(cars[i].b, ep); len(fresh.Readings) != len(cars[i].b.Readings) {
			cars = cars[:i] // written in part already: processBatch sorts it out
			break
		}
	}
	if len(cars) < 2 {
		return 0
	}
	last := cars[len(cars)-1].b
	if !tx.Fits(epoch, cars[0].b.Start(), last.Last(), last.Retained) {
		return 0
	}

	// 3. Screen in order (the series cap admits new devices in their
	// order), then 4: write every batch at once.
	for i := range cars {
		cars[i].w = s.screenFresh(cars[i].j, cars[i].b, cars[i].b)
	}
	var wg sync.WaitGroup
	for i := range cars {
		c := &cars[i]
		wg.Go(func() { c.err = s.writeGood(ctx, c.j, c.w) })
	}
	wg.Wait()
	ok := len(cars)
	for i := range cars {
		if cars[i].err != nil {
			ok = i
			break
		}
	}
	for i := ok; i < len(cars); i++ {
		// Not committed: the gateway sends it again (what reached
		// InfluxDB is then written again, the same points).
		err := cars[i].err
		if err == nil {
			err = cars[ok].err
		}
		s.m.batches.WithLabelValues("error").Inc()
		out[i] = Result{Err: err}
	}
	if ok == 0 {
		return len(cars)
	}
	if ok < len(cars) && !tx.Fits(epoch, cars[0].b.Start(), cars[ok-1].b.Last(), cars[ok-1].b.Retained) {
		// The whole chain fitted the state's bounds by joining a range
		// beyond it; the written part alone does not: commit none of it
		// (the gateway sends it again).
		for i := range ok {
			s.m.batches.WithLabelValues("error").Inc()
			out[i] = Result{Err: cars[ok].err}
		}
		return len(cars)
	}

	// 6 before 5 (see Config.ApplyBeforeCommit), then 5: one commit for
	// every written batch.
	if s.cfg.ApplyBeforeCommit {
		for i := range ok {
			s.apply(cars[i].b, cars[i].w.good, true)
		}
	}
	dropped := make([]uint64, ok)
	for i := range ok {
		b := cars[i].b
		dropped[i] = tx.Add(b.Epoch, b.Start(), b.Last(), b.Retained, s.cfg.Now())
	}
	err = s.retry(ctx, "persist dedup state", func() error { return tx.Commit(ctx) })
	switch {
	case errors.Is(err, dedup.ErrConflict):
		// Another instance changed the state: redo each batch from the
		// dedup filter as Process does, keeping what was written.
		unlock()
		s.m.dedupConflicts.Inc()
		for i := range ok {
			c := &cars[i]
			out[i] = s.redo(ctx, c.j, c.b, c.res, c.w)
		}
	case err != nil:
		for i := range ok {
			s.m.batches.WithLabelValues("error").Inc()
			out[i] = Result{Err: err}
		}
	default:
		for i := range ok {
			c := &cars[i]
			if dropped[i] > 0 {
				s.droppedByGateway(gw, epoch, dropped[i], ep)
			}
			if !s.cfg.ApplyBeforeCommit {
				s.apply(c.b, c.w.good, false)
			}
			out[i] = s.written(c.b, c.w.good, c.w, c.res, ep.Mark)
		}
		s.noteGap(gw, epoch, ep)
		s.m.trains.Observe(float64(ok))
	}
	return len(cars)
}
