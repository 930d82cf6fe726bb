package influx

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/ponte-city/ponte/wire"
)

// queue is the sink's side toward its callers: it accepts the readings of
// Write calls as lines, holds at most MaxPending of them (Write waits for
// room: back-pressure), coalesces them into batches of up to BatchSize for
// the flush loops, and ends each Write once the client has settled all of
// its lines (as the client's ledger). It knows nothing of HTTP.
//
// Its API:
//
//   - write: encode, wait for room, queue, wait for the lines to settle;
//   - flush: one flush loop, taking batches and handing them to a client;
//   - close, then failRest once the flush loops ended;
//   - wake: the client's writes resumed, blocked flush loops may take;
//   - prune, written, refused, failed: the ledger the client settles
//     lines through.
//
// write is safe for concurrent use; several flush loops run at once. mu
// guards the queued jobs and the flush loops' counts; a job's own state
// is guarded by its own lock (see job).
type queue struct {
	cfg   Config
	enc   encoder
	m     *metrics
	admit *semaphore.Weighted
	// closing is done once close is called: no new writes, admission
	// waits end, and flush loops drain what is queued.
	closing  context.Context
	closeNow context.CancelFunc

	mu       sync.Mutex
	jobs     []*job        // jobs with lines not yet taken, oldest first
	untaken  int           // lines in jobs not yet taken
	inflight int           // flush loops holding a batch
	changed  chan struct{} // closed and replaced when jobs or state change
	closed   bool          // close was called

	pending  atomic.Int64 // lines admitted and not yet settled
	held     atomic.Int64 // Write calls admitted and not yet done
	rejected atomic.Int64 // readings rejected before sending
}

// newQueue returns an open queue for cfg (defaults applied).
func newQueue(cfg Config, meta Meta, m *metrics) *queue {
	closing, closeNow := context.WithCancel(context.Background())
	return &queue{
		cfg:      cfg,
		enc:      encoder{fallback: cfg.Measurement, meta: meta},
		m:        m,
		admit:    semaphore.NewWeighted(int64(cfg.MaxPending)),
		closing:  closing,
		closeNow: closeNow,
		changed:  make(chan struct{}),
	}
}

// write is Sink.Write: it returns once every line of readings is settled,
// or ctx ends, or the queue is closed before they are.
func (q *queue) write(ctx context.Context, gateway string, readings []wire.Reading) (rejected []Rejected, err error) {
	if q.closing.Err() != nil {
		return nil, fmt.Errorf("write %d readings of gateway %q: %w", len(readings), gateway, ErrClosed)
	}
	j := q.enc.encode(gateway, readings)
	if n := len(j.rejected); n > 0 {
		q.rejected.Add(int64(n))
		q.m.rejected.WithLabelValues("local").Add(float64(n))
	}
	if len(j.ends) == 0 {
		return j.rejected, nil
	}
	if err := q.admitJob(ctx, j); err != nil {
		return nil, fmt.Errorf("write %d readings of gateway %q: wait for room: %w", len(readings), gateway, err)
	}
	if !q.enqueue(j) {
		j.onDone(j)
		return nil, fmt.Errorf("write %d readings of gateway %q: %w", len(readings), gateway, ErrClosed)
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		if j.abandon() {
			return nil, fmt.Errorf("write %d readings of gateway %q: %w", len(readings), gateway, ctx.Err())
		}
	}
	if j.err != nil {
		return j.rejected, fmt.Errorf("write %d readings of gateway %q: %w", len(readings), gateway, j.err)
	}
	return j.rejected, nil
}

// admitJob waits for room for j's readings under MaxPending (a job larger
// than MaxPending waits for all of it), or until ctx ends or the queue
// closes.
func (q *queue) admitJob(ctx context.Context, j *job) error {
	j.weight = int64(min(len(j.members), q.cfg.MaxPending))
	if !q.admit.TryAcquire(j.weight) {
		actx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(q.closing, cancel)
		defer stop()
		if err := q.admit.Acquire(actx, j.weight); err != nil {
			if ctx.Err() == nil {
				return ErrClosed
			}
			return err
		}
	}
	q.held.Add(1)
	j.onDone = func(j *job) {
		q.admit.Release(j.weight)
		q.held.Add(-1)
		if j.queued {
			n := int64(len(j.members))
			q.pending.Add(-n)
			q.m.pending.Sub(float64(n))
		}
	}
	return nil
}

// enqueue queues j for the flush loops; it reports false if the queue is
// closed.
func (q *queue) enqueue(j *job) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	j.enq = time.Now()
	j.queued = true
	n := int64(len(j.members))
	q.pending.Add(n)
	q.m.pending.Add(float64(n))
	q.jobs = append(q.jobs, j)
	q.untaken += len(j.ends)
	q.notifyLocked()
	return true
}

// full reports whether the lines waiting to be written reached
// MaxPending.
func (q *queue) full() bool { return q.pending.Load() >= int64(q.cfg.MaxPending) }

// wake wakes the flush loops waiting for a change, e.g. because the
// client's writes succeed again.
func (q *queue) wake() {
	q.mu.Lock()
	q.notifyLocked()
	q.mu.Unlock()
}

// notifyLocked wakes every goroutine waiting for a change; q.mu is held.
func (q *queue) notifyLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// close stops taking writes and lets the flush loops drain; it reports
// false when the queue was already closed.
func (q *queue) close() bool {
	q.mu.Lock()
	was := q.closed
	q.closed = true
	q.notifyLocked()
	q.mu.Unlock()
	q.closeNow()
	return !was
}

// failRest ends every queued job's untaken lines with ErrClosed; it is
// called once the flush loops have ended.
func (q *queue) failRest() {
	q.mu.Lock()
	jobs := q.jobs
	q.jobs = nil
	q.untaken = 0
	q.mu.Unlock()
	for _, j := range jobs {
		if n := len(j.ends) - j.taken; n > 0 {
			j.finish(n, nil, ErrClosed)
		}
	}
}

// flush is one flush loop: it takes batches and has c deliver them, until
// the queue is closed with nothing left to take, or ctx ends (then c
// fails what it holds with ErrClosed).
func (q *queue) flush(ctx context.Context, c *client) {
	var b batch
	for {
		b = q.take(ctx, c, b[:0])
		if len(b) == 0 {
			return
		}
		c.deliver(ctx, b, q)
		q.mu.Lock()
		q.inflight--
		q.notifyLocked()
		q.mu.Unlock()
	}
}

// take waits until a batch is due and appends its lines to b: at once
// when no other write is in flight (low latency when InfluxDB keeps up),
// otherwise when minBatch lines wait (more the more writes are in flight)
// or the oldest has waited FlushInterval (large writes when it does not).
// While c's writes are failing only the flush loop already retrying talks
// to InfluxDB. It returns b empty when the loop should stop.
func (q *queue) take(ctx context.Context, c *client, b batch) batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if ctx.Err() != nil {
			return b
		}
		var wait time.Duration
		if q.untaken > 0 && (q.inflight == 0 || !c.failing()) {
			due := q.closed || q.inflight == 0 || q.untaken >= q.minBatch()
			if !due {
				wait = time.Until(q.jobs[0].enq.Add(q.cfg.FlushInterval))
				due = wait <= 0
			}
			if due {
				b = q.takeLocked(b)
				if len(b) > 0 {
					q.inflight++
					return b
				}
				continue
			}
		} else if q.untaken == 0 && q.closed {
			return b
		}
		ch := q.changed
		q.mu.Unlock()
		var t *time.Timer
		var timeout <-chan time.Time
		if wait > 0 {
			t = time.NewTimer(wait)
			timeout = t.C
		}
		select {
		case <-ch:
		case <-timeout:
		case <-ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
		q.mu.Lock()
	}
}

// groupAhead bounds how many queued jobs one request looks through for
// its gateways' next jobs, so that taking a request stays cheap under q.mu
// however many small jobs are queued: past it, jobs are taken in order.
const groupAhead = 256

// takeLocked moves up to BatchSize queued lines into b, dropping the
// lines of abandoned jobs; q.mu is held. It starts with the oldest job and
// takes the queued jobs of its gateway next, in their order, before the
// oldest of another gateway's (looking through groupAhead jobs at most): a
// request of few gateways carries few series, and InfluxDB spends per
// series of a request as well as per line (ingest/app
// BenchmarkMixedRequests: runs of 1,000 lines of eight gateways in turn,
// in requests of 4,460 lines, cost it 1.4-4.3 % more CPU per reading than
// one gateway's lines in requests of 5,000, in three runs; the make-up or
// the size alone, about 1 %). The order of writes is not Write's promise:
// writes already run concurrently. Jobs all taken leave the queue at the
// end, in one pass.
func (q *queue) takeLocked(b batch) batch {
	left := func(j *job) int { return len(j.ends) - j.taken }
	var gateway string   // the gateway of the job last taken from
	from := -1           // its index; -1 before the first
	oldest := 0          // the jobs before it have no lines left
	budget := groupAhead // jobs still to look through for gateway's next
	for len(b) < q.cfg.BatchSize && q.untaken > 0 {
		i := -1
		if from >= 0 && budget > 0 {
			ahead := q.jobs[from+1 : min(len(q.jobs), from+1+budget)]
			k := slices.IndexFunc(ahead, func(j *job) bool { return j.gateway == gateway && left(j) > 0 })
			if k >= 0 {
				i = from + 1 + k
				budget -= k + 1
			} else {
				budget -= len(ahead)
			}
		}
		if i < 0 { // the oldest job with lines left
			for oldest < len(q.jobs) && left(q.jobs[oldest]) == 0 {
				oldest++
			}
			if oldest == len(q.jobs) {
				break
			}
			i = oldest
		}
		j := q.jobs[i]
		gateway, from = j.gateway, i
		n := left(j)
		if j.isAbandoned() {
			j.taken = len(j.ends)
			q.untaken -= n
			q.abandonedLines(j, j.taken-n, j.taken)
			continue
		}
		k := min(q.cfg.BatchSize-len(b), n)
		for l := j.taken; l < j.taken+k; l++ {
			b = append(b, ref{j: j, i: l})
		}
		j.taken += k
		q.untaken -= k
	}
	q.jobs = slices.DeleteFunc(q.jobs, func(j *job) bool { return left(j) == 0 })
	return b
}

// minBatch is the size at which a free flush loop sends without lingering
// while other writes are in flight: a full BatchSize while two or more
// are, otherwise BatchSize's share of the one in flight (of Writers), and
// at least a tenth of BatchSize. With two in flight InfluxDB has a request
// waiting behind the one it works on, so a loop that waits for a full one
// leaves it no less busy, and InfluxDB pays for each request (see
// takeLocked). With one in flight a loop waits for less, so that the next
// request is there when that one ends; as writes end the size falls, so
// lines never wait while InfluxDB would idle.
func (q *queue) minBatch() int {
	if q.inflight >= 2 {
		return q.cfg.BatchSize
	}
	return max(1, q.cfg.BatchSize/10, q.cfg.BatchSize*q.inflight/q.cfg.Writers)
}

// abandonedLines ends lines from up to (not including) to of an abandoned
// job unwritten.
func (q *queue) abandonedLines(j *job, from, to int) {
	n := 0
	for i := from; i < to; i++ {
		n += len(j.lineReadings(i))
	}
	q.m.abandoned.Add(float64(n))
	j.finish(to-from, nil, nil)
}
