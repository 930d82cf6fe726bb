package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/internal/backoff"
	"github.com/ponte-city/ponte/wire"
)

// Dead-letter reasons.
const (
	ReasonTooLarge        = "too_large"
	ReasonVersion         = "version"
	ReasonCorrupt         = "corrupt"
	ReasonTruncated       = "truncated"
	ReasonBadGatewayID    = "invalid_gateway_id"
	ReasonGatewayMismatch = "gateway_mismatch"
	ReasonUnknownGateway  = "unknown_gateway"
	ReasonTime            = "time_out_of_range"
	ReasonUnknownDevice   = "unknown_device"
	ReasonSinkRejected    = "sink_rejected"
)

// Process runs one job through the pipeline synchronously and returns its
// result (Done is not called). The caller must not process two jobs of one
// gateway at once; Submit does this serialisation.
func (s *Service) Process(ctx context.Context, j Job) Result {
	b, res := s.receive(j)
	if b == nil {
		return res
	}
	return s.processBatch(ctx, j, b, res)
}

// receive counts j and runs step 1 (decode and check): it returns the
// batch and the result to fill, or nil and the result of a batch refused
// as a whole (dead-lettered).
func (s *Service) receive(j Job) (*wire.Batch, Result) {
	s.arrived(j)
	return s.decode(j)
}

// arrived counts j and marks its gateway seen: the part of step 1 done
// when a job is taken from the queue, before its turn comes.
func (s *Service) arrived(j Job) {
	s.m.received.Inc()
	s.seen(j.Gateway)
}

// decode is the rest of step 1 (see receive).
func (s *Service) decode(j Job) (*wire.Batch, Result) {
	b, inv := s.check(j)
	if inv != nil {
		s.deadLetter(j, deadletter.Letter{Reason: inv.Reason, Detail: inv.Err.Error()}, j.Payload)
		s.m.batches.WithLabelValues("invalid").Inc()
		return nil, Result{Err: inv}
	}
	s.m.readings.WithLabelValues("received").Add(float64(len(b.Readings)))
	return b, Result{Ack: wire.Ack{Gateway: b.Gateway, Epoch: b.Epoch}, HasAck: true}
}

// processBatch runs steps 2 to 6 on a received batch.
func (s *Service) processBatch(ctx context.Context, j Job, b *wire.Batch, res Result) Result {

	// 2 to 6, again from the dedup filter while another instance sharing
	// the state commits first (dedup.ErrConflict): the state it stored
	// may record this very batch.
	return s.redo(ctx, j, b, res, nil)
}

// redo runs pass until it does not meet a conflict; w is what an earlier
// pass over b screened and wrote, nil if none.
func (s *Service) redo(ctx context.Context, j Job, b *wire.Batch, res Result, w *screened) Result {
	for {
		r, err := s.pass(ctx, j, b, res, &w)
		if !errors.Is(err, dedup.ErrConflict) {
			if r.Duplicates > 0 {
				s.m.dedupHits.Add(float64(r.Duplicates))
				s.m.readings.WithLabelValues("duplicate").Add(float64(r.Duplicates))
			}
			return r
		}
		s.m.dedupConflicts.Inc()
		s.cfg.Logger.Debug("dedup state changed by another instance; batch redone from the dedup filter",
			"gateway", b.Gateway, "epoch", b.Epoch, "first", b.First(), "last", b.Last())
	}
}

// screened is what the first pass over a batch did at steps 3 and 4: a
// pass redone after a conflict writes and dead-letters nothing again.
type screened struct {
	good         *wire.Batch // written to the sink
	refusals     []refusal
	deadLettered int
}

// pass runs steps 2 to 6 once, under the gateway's state lock. It returns
// an error wrapping dedup.ErrConflict (and nothing applied or counted) when
// another instance committed the gateway's state first; *w keeps the
// screening and write of the first pass for the next.
func (s *Service) pass(ctx context.Context, j Job, b *wire.Batch, res Result, w **screened) (Result, error) {
	// 2. Dedup filter, under the gateway's state lock (held to the end,
	// so that instances sharing the state take a gateway's batches one at
	// a time).
	var tx dedup.Tx
	if err := s.retry(ctx, "lock dedup state", func() (err error) {
		tx, err = s.cfg.Dedup.Lock(ctx, b.Gateway)
		return err
	}); err != nil {
		s.m.batches.WithLabelValues("error").Inc()
		return Result{Err: err}, nil
	}
	defer tx.Unlock()
	ep := tx.Epoch(b.Epoch)
	fresh := keepFresh(b, ep)
	res.Duplicates = len(b.Readings) - len(fresh.Readings)
	if len(fresh.Seqs) == 0 {
		// A replay: nothing to write, but it may carry the gateway's word
		// that it dropped what a gap waits for.
		dropped := tx.Release(b.Epoch, b.Retained, s.cfg.Now())
		if err := s.retry(ctx, "persist dedup state", func() error { return tx.Commit(ctx) }); err != nil {
			if errors.Is(err, dedup.ErrConflict) {
				return res, err
			}
			s.m.batches.WithLabelValues("error").Inc()
			return Result{Err: err}, nil
		}
		if dropped > 0 {
			s.droppedByGateway(b.Gateway, b.Epoch, dropped, ep)
		}
		s.noteGap(b.Gateway, b.Epoch, ep)
		res.Ack.Seq = ep.Mark
		s.m.batches.WithLabelValues("duplicate").Inc()
		return res, nil
	}
	if !tx.Fits(b.Epoch, b.Start(), b.Last(), b.Retained) {
		// Too many ranges beyond gaps to remember this one: keep nothing
		// of it. The gateway holds it and sends it again when its ack
		// times out, by when the gaps before it may have filled.
		res.Ack.Seq = ep.Mark
		res.Deferred = len(b.Readings)
		s.m.batches.WithLabelValues("deferred").Inc()
		s.cfg.Logger.Warn("batch deferred: too many gaps open before it; the gateway sends it again",
			"gateway", b.Gateway, "epoch", b.Epoch, "first", b.First(), "last", b.Last(), "mark", ep.Mark, "missing", ep.Missing())
		return res, nil
	}

	var good *wire.Batch
	if *w == nil {
		var err error
		if *w, err = s.screenAndWrite(ctx, j, b, fresh); err != nil {
			s.m.batches.WithLabelValues("error").Inc()
			return Result{Err: err}, nil
		}
		good = (*w).good
	} else {
		// Redone after a conflict: what is still fresh was written by the
		// first pass (InfluxDB has it); what another instance recorded
		// meanwhile is its to apply.
		good = keepFresh((*w).good, ep)
	}
	if s.cfg.ApplyBeforeCommit {
		s.apply(b, good, true) // 6, before 5 (see Config.ApplyBeforeCommit)
	}

	// 5. Persist: the batch's range is written.
	dropped := tx.Add(b.Epoch, b.Start(), b.Last(), b.Retained, s.cfg.Now())
	if err := s.retry(ctx, "persist dedup state", func() error { return tx.Commit(ctx) }); err != nil {
		if errors.Is(err, dedup.ErrConflict) {
			return res, err
		}
		s.m.batches.WithLabelValues("error").Inc()
		return Result{Err: err}, nil
	}
	if dropped > 0 {
		s.droppedByGateway(b.Gateway, b.Epoch, dropped, ep)
	}
	s.noteGap(b.Gateway, b.Epoch, ep)

	// 6. Twin.
	if !s.cfg.ApplyBeforeCommit {
		s.apply(b, good, false)
	}
	return s.written(b, good, *w, res, ep.Mark), nil
}

// apply runs step 6: gives good, the readings of b written, to the
// Applier. Before the commit it carries b's range (From, Retained), so
// that an Applier applying each seq once can mark all b covers.
func (s *Service) apply(b, good *wire.Batch, beforeCommit bool) {
	if s.cfg.Applier == nil || len(good.Readings) == 0 {
		return
	}
	if beforeCommit {
		if start := b.Start(); start < good.First() {
			good.From = start
		}
		good.Retained = b.Retained
	}
	s.cfg.Applier.Apply(b.Gateway, b.Epoch, good)
}

// written completes the result of a batch whose good readings were
// written and committed, acknowledging up to mark.
func (s *Service) written(b, good *wire.Batch, w *screened, res Result, mark uint64) Result {
	res.DeadLettered = w.deadLettered
	res.Written = len(good.Readings)
	res.Ack.Seq = mark
	if refusals := w.refusals; b.Flags&wire.FlagAckRefused != 0 && len(refusals) > 0 {
		res.Ack.Refused, res.Ack.RefusedOmitted = refusedSummary(refusals, good)
	}
	s.m.readings.WithLabelValues("written").Add(float64(res.Written))
	if res.DeadLettered > 0 {
		s.m.readings.WithLabelValues("dead_letter").Add(float64(res.DeadLettered))
	}
	s.m.batches.WithLabelValues("written").Inc()
	return res
}

// screenAndWrite runs steps 3 and 4 on the fresh readings of b.
func (s *Service) screenAndWrite(ctx context.Context, j Job, b, fresh *wire.Batch) (*screened, error) {
	w := s.screenFresh(j, b, fresh)
	if err := s.writeGood(ctx, j, w); err != nil {
		return nil, err
	}
	return w, nil
}

// screenFresh runs step 3 (per-reading checks) on the fresh readings of b:
// what fails is dead-lettered, what passes is w.good.
func (s *Service) screenFresh(j Job, b, fresh *wire.Batch) *screened {
	good, bad, win := s.screen(fresh)
	w := &screened{good: good}
	for reason, rb := range bad {
		l := deadletter.Letter{Reason: reason, Detail: s.screenCause(reason, b.Gateway, len(rb.Readings), win).Error()}
		if reason == ReasonTime {
			l.Window = win
		}
		s.deadLetterBatch(j, l, rb)
		w.refusals = append(w.refusals, refusal{l, rb})
		w.deadLettered += len(rb.Readings)
	}
	return w
}

// writeGood runs step 4: writes w.good, and takes out of it (dead-lettered)
// what the sink refuses.
func (s *Service) writeGood(ctx context.Context, j Job, w *screened) error {
	if len(w.good.Readings) == 0 {
		return nil
	}
	rejected, err := s.write(ctx, w.good)
	if err != nil {
		return err
	}
	if len(rejected) > 0 {
		var r refusal
		w.good, r = s.dropRejected(j, w.good, rejected)
		w.refusals = append(w.refusals, r)
		w.deadLettered += len(rejected)
	}
	return nil
}

// keepFresh returns the readings of b that ep does not record as written:
// b itself when none is (the usual case: no copy), else a new batch.
// Nothing changes a batch once decoded, so sharing b is safe.
func keepFresh(b *wire.Batch, ep *dedup.Epoch) *wire.Batch {
	out := b
	for i, seq := range b.Seqs {
		switch written := ep.Written(seq); {
		case written && out == b: // the first written: copy what came before
			out = newBatch(b)
			out.Seqs = append(out.Seqs, b.Seqs[:i]...)
			out.Readings = append(out.Readings, b.Readings[:i]...)
		case !written && out != b:
			out.Seqs = append(out.Seqs, seq)
			out.Readings = append(out.Readings, b.Readings[i])
		}
	}
	return out
}

func newBatch(b *wire.Batch) *wire.Batch {
	return &wire.Batch{Gateway: b.Gateway, Epoch: b.Epoch,
		Seqs: make([]uint64, 0, len(b.Seqs)), Readings: make([]wire.Reading, 0, len(b.Readings))}
}

// check decodes the payload and checks the batch as a whole.
func (s *Service) check(j Job) (*wire.Batch, *InvalidError) {
	b, err := wire.Decode(j.Payload)
	if err != nil {
		reason := ReasonCorrupt
		switch {
		case errors.Is(err, wire.ErrTooLarge):
			reason = ReasonTooLarge
		case errors.Is(err, wire.ErrVersion):
			reason = ReasonVersion
		case errors.Is(err, wire.ErrTruncated):
			reason = ReasonTruncated
		}
		return nil, &InvalidError{Reason: reason, Err: err}
	}
	switch {
	case !wire.ValidGatewayID(b.Gateway):
		return nil, &InvalidError{Reason: ReasonBadGatewayID, Err: fmt.Errorf("batch gateway %q is not a valid gateway ID", b.Gateway)}
	case b.Gateway != j.Gateway:
		return nil, &InvalidError{Reason: ReasonGatewayMismatch, Err: fmt.Errorf("batch of gateway %q arrived as gateway %q (%s %s)", b.Gateway, j.Gateway, j.Transport, j.Topic)}
	case !s.known.Load().gateway(b.Gateway):
		return nil, &InvalidError{Reason: ReasonUnknownGateway, Err: fmt.Errorf("gateway %q is not in the configuration", b.Gateway)}
	}
	return b, nil
}

// screen splits the readings into the good ones and the dead-lettered
// ones by reason, and returns the time window it applied.
func (s *Service) screen(b *wire.Batch) (good *wire.Batch, bad map[string]*wire.Batch, win *deadletter.Window) {
	now := s.cfg.Now()
	win = windowAt(now, s.cfg.MaxAge, s.cfg.MaxFuture)
	oldest, newest := win.From, win.To
	devs, listed := s.known.Load().devices[b.Gateway]
	checkDev := listed && s.cfg.UnknownDevices == PolicyDeadLetter
	series := s.series.gateway(b.Gateway)
	defer series.mu.Unlock()
	good = b
	for i := range b.Readings {
		r := &b.Readings[i]
		reason := ""
		switch {
		case r.Time.Before(oldest) || r.Time.After(newest):
			reason = ReasonTime
		case checkDev && !devs[r.Device]:
			reason = ReasonUnknownDevice
		case !devs[r.Device] && !s.series.admit(series, b.Gateway, r.Device, now):
			reason = ReasonSeriesLimit
		}
		if reason == "" {
			if good != b {
				good.Seqs = append(good.Seqs, b.Seqs[i])
				good.Readings = append(good.Readings, *r)
			}
			continue
		}
		if good == b { // first bad reading: copy what came before
			good = newBatch(b)
			good.Seqs = append(good.Seqs, b.Seqs[:i]...)
			good.Readings = append(good.Readings, b.Readings[:i]...)
			bad = map[string]*wire.Batch{}
		}
		rb := bad[reason]
		if rb == nil {
			rb = &wire.Batch{Gateway: b.Gateway, Epoch: b.Epoch}
			bad[reason] = rb
		}
		rb.Seqs = append(rb.Seqs, b.Seqs[i])
		rb.Readings = append(rb.Readings, *r)
	}
	return good, bad, win
}

// write calls the sink until it succeeds or ctx ends.
func (s *Service) write(ctx context.Context, b *wire.Batch) ([]Rejected, error) {
	var rejected []Rejected
	err := s.retry(ctx, "write readings", func() error {
		start := time.Now()
		r, err := s.cfg.Sink.Write(ctx, b.Gateway, b.Readings)
		s.m.writeSeconds.Observe(time.Since(start).Seconds())
		if err != nil {
			s.m.sinkErrors.Inc()
			return err
		}
		rejected = r
		return nil
	})
	return rejected, err
}

// retry runs f until it succeeds or ctx ends, with exponential backoff.
func (s *Service) retry(ctx context.Context, what string, f func() error) error {
	wait := backoff.Policy{Base: s.cfg.RetryBase, Max: s.cfg.RetryMax}
	retrying := false
	defer func() {
		if retrying {
			s.retrying.Add(-1)
		}
	}()
	for attempt := 0; ; attempt++ {
		err := f()
		if err == nil || errors.Is(err, dedup.ErrConflict) {
			return err // a conflict is redone from the dedup filter, never retried as is
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		if !retrying {
			retrying = true
			s.retrying.Add(1)
		}
		delay := wait.Wait(attempt)
		s.cfg.Logger.Warn("ingest step failed, retrying", "step", what, "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// dropRejected dead-letters the readings the sink refused and returns the
// batch without them, and them.
func (s *Service) dropRejected(j Job, b *wire.Batch, rejected []Rejected) (*wire.Batch, refusal) {
	type key struct {
		device, point string
		t             int64
	}
	refused := make(map[key]string, len(rejected))
	for _, r := range rejected {
		refused[key{r.Reading.Device, r.Reading.Point, r.Reading.Time.UnixNano()}] = r.Reason
	}
	kept := newBatch(b)
	rb := &wire.Batch{Gateway: b.Gateway, Epoch: b.Epoch}
	var why string
	for i := range b.Readings {
		r := &b.Readings[i]
		if reason, ok := refused[key{r.Device, r.Point, r.Time.UnixNano()}]; ok {
			rb.Seqs = append(rb.Seqs, b.Seqs[i])
			rb.Readings = append(rb.Readings, *r)
			if why == "" {
				why = reason
			}
			continue
		}
		kept.Seqs = append(kept.Seqs, b.Seqs[i])
		kept.Readings = append(kept.Readings, *r)
	}
	l := deadletter.Letter{Reason: ReasonSinkRejected, Detail: why}
	if len(rb.Readings) > 0 {
		s.deadLetterBatch(j, l, rb)
	}
	return kept, refusal{l, rb}
}

// deadLetterBatch dead-letters the readings of b (the refused part of a
// batch) with l's reason, detail and window.
func (s *Service) deadLetterBatch(j Job, l deadletter.Letter, b *wire.Batch) {
	payload, err := wire.Encode(nil, b)
	if err != nil {
		// Readings of a decoded batch always encode; keep the evidence
		// in the letter's detail if not.
		l.Detail = fmt.Sprintf("%s (re-encoding failed: %v)", l.Detail, err)
	}
	l.Readings = len(b.Readings)
	s.deadLetter(j, l, payload)
}

// deadLetter stores a letter (l with the job's transport, topic and
// gateway); a failure to store it is logged and counted but does not stop
// the pipeline: letters are evidence, not data ingest promised to keep.
func (s *Service) deadLetter(j Job, l deadletter.Letter, payload []byte) {
	s.m.deadLetters.WithLabelValues(s.gatewayLabel(j.Gateway), l.Reason).Inc()
	l.Transport, l.Topic, l.Gateway = j.Transport, j.Topic, j.Gateway
	if _, err := s.cfg.DeadLetter.Put(l, payload); err != nil {
		s.m.deadLetterErrors.Inc()
		s.cfg.Logger.Error("dead letter not stored", "reason", l.Reason, "gateway", j.Gateway, "err", err)
	}
}
