package modbus

import (
	"context"
	"log/slog"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/wire"
)

// bus is every device behind one link (one RTU line, or one TCP host:port)
// and the single goroutine that polls them, one request at a time.
type bus struct {
	key     string
	link    link
	devs    []*device
	log     *slog.Logger
	metrics *source.Metrics
	backoff func(n int) time.Duration
	ops     chan busOp // writes and read-backs, run between polls

	results  []Result       // reused between polls
	readings []wire.Reading // reused between polls; emit must not keep it
}

// run polls the bus's devices until ctx ends. Each turn it runs the job
// that is due first; a device in backoff is not due before its retry
// time, so on a shared line a dead slave costs one timeout per backoff
// period and the others keep their rate.
func (b *bus) run(ctx context.Context, emit source.Emitter) {
	defer func() {
		if err := b.link.close(); err != nil {
			b.log.Debug("close modbus link", "bus", b.key, "err", err)
		}
	}()
	now := time.Now()
	for _, d := range b.devs {
		for _, j := range d.jobs {
			j.next = now
		}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d, j, due := b.nextJob()
		if d == nil {
			select {
			case <-ctx.Done():
				return
			case op := <-b.ops:
				b.runOp(op)
				continue
			}
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			case op := <-b.ops:
				timer.Stop()
				b.runOp(op)
				continue
			}
		} else {
			select { // a waiting write goes first even when polls are late
			case op := <-b.ops:
				b.runOp(op)
				continue
			default:
			}
		}
		if ctx.Err() != nil {
			return
		}
		b.poll(ctx, d, j, emit)
	}
}

// nextJob returns the job due first, and when.
func (b *bus) nextJob() (*device, *job, time.Time) {
	var bd *device
	var bj *job
	var best time.Time
	for _, d := range b.devs {
		for _, j := range d.jobs {
			due := j.next
			if d.retryAt.After(due) {
				due = d.retryAt
			}
			if bj == nil || due.Before(best) {
				bd, bj, best = d, j, due
			}
		}
	}
	return bd, bj, best
}

// poll runs one job of d, emits its readings, and updates metrics, state
// and schedule.
func (b *bus) poll(ctx context.Context, d *device, j *job, emit source.Emitter) {
	start := time.Now()
	retried := d.retryAt.After(j.next) // due by its backoff, not its slot
	var o outcome
	b.results, o = readAll(ctx, b.link, d, j.reqs, b.results[:0], false)
	if o.canceled {
		return // shutting down: cancelled reads are not the device's fault
	}
	took := time.Since(start)
	b.readings = b.readings[:0]
	for i := range b.results {
		b.readings = append(b.readings, b.results[i].Reading)
	}
	b.record(d, j, o, took)
	// A polled device has nothing to acknowledge: the Commit is dropped,
	// so a slow disk never delays the next poll.
	emit(b.readings)

	next, skipped := nextSlot(j.next, j.every, time.Now(), retried)
	if retried {
		skipped = 0 // backoff's, counted as errors
	}
	if late := !retried && start.Sub(j.next) >= j.every; late || skipped > 0 {
		b.metrics.Schedule(d.Name, late, skipped)
	}
	j.next = next
}

// lateSlots is how far behind, in intervals, a job may fall and still poll
// every slot it missed: a bus that stalled (the process descheduled under
// CPU starvation, a slow reply) catches up at once, each late poll with
// the time it really read. Further behind (a bus that cannot keep its
// rate, a device back from a long outage) it skips to its next slot.
const lateSlots = 3

// nextSlot returns when a job whose slot due was just polled is due
// next. A missed slot is polled late, not dropped: the next slot stays
// due even when it has passed, while the job is at most lateSlots behind.
// Beyond that, or after a poll made at a backoff's retry time, the job
// skips the missed slots (the schedule keeps its phase) rather than
// polling a device in a burst. It also returns how many slots it skipped.
func nextSlot(due time.Time, every time.Duration, now time.Time, retried bool) (time.Time, int) {
	next := due.Add(every)
	if !next.Before(now) || (!retried && now.Sub(next) < lateSlots*every) {
		return next, 0
	}
	n := now.Sub(next)/every + 1
	return next.Add(n * every), int(n)
}

// record counts the poll, moves the device in or out of backoff and logs
// changes of state, once each.
func (b *bus) record(d *device, j *job, o outcome, took time.Duration) {
	var kind string
	var err error
	if o.err != nil {
		kind, err = o.err.Kind, o.err
	}
	b.metrics.Poll(d.Name, took, err, kind)
	// Readings are counted per quality and added once per poll: a label
	// lookup per reading was the poll's largest cost at 100k points/s.
	var byQuality [wire.QualityBadRange + 1]int
	for i := range b.readings {
		rd := &b.readings[i]
		if int(rd.Quality) < len(byQuality) {
			byQuality[rd.Quality]++
		} else if b.metrics != nil {
			b.metrics.Readings.WithLabelValues(d.Name, rd.Quality.String()).Inc()
		}
		b.pointState(d, rd)
	}
	if b.metrics != nil {
		for q, n := range byQuality {
			if n > 0 {
				b.metrics.Readings.WithLabelValues(d.Name, wire.Quality(q).String()).Add(float64(n))
			}
		}
	}
	if o.broken() {
		d.retryAt = time.Now().Add(b.backoff(d.failures))
		d.failures++
	} else {
		d.failures, d.retryAt = 0, time.Time{}
	}
	if d.log.Enabled(context.Background(), slog.LevelDebug) { // its arguments would allocate on every poll
		d.log.Debug("modbus poll", "class", j.class, "requests", len(j.reqs), "ok", o.ok, "failed", o.failed,
			"took", took, "err", err)
	}
	switch {
	case kind == "" && (!d.seen || d.state != ""):
		if d.seen {
			d.log.Info("modbus device recovered", "was", d.state)
		} else {
			d.log.Info("modbus device responding")
		}
	case kind != "" && (!d.seen || d.state != kind):
		attrs := []any{"kind", kind, "reason", o.err.Error()}
		if o.broken() {
			attrs = append(attrs, "retry_in", time.Until(d.retryAt).Round(time.Millisecond))
		}
		d.log.Warn("modbus device failing", attrs...)
	}
	d.seen, d.state = true, kind
}

// pointState logs a point that stops or resumes decoding, once per change,
// and counts decode errors: those point at the profile, not the line.
func (b *bus) pointState(d *device, rd *wire.Reading) {
	switch rd.Quality {
	case wire.QualityBadDecode:
		b.metrics.Error(d.Name, KindDecode)
		if !d.badPoints[rd.Point] {
			d.badPoints[rd.Point] = true
			d.log.Warn("modbus point does not decode", "point", rd.Point, "reason", rd.Reason)
		}
	case wire.QualityGood, wire.QualityBadRange:
		if d.badPoints[rd.Point] {
			delete(d.badPoints, rd.Point)
			d.log.Info("modbus point decodes again", "point", rd.Point)
		}
	}
}
