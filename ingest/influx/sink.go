package influx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"golang.org/x/sync/semaphore"

	"github.com/ponte-city/ponte/wire"
)

// ErrClosed is wrapped by Write's error when the sink was closed before
// InfluxDB accepted the points.
var ErrClosed = errors.New("influx sink closed")

// Meta tags a reading: area and type (the device's profile category) for a
// gateway's device; empty strings when unknown. It is called from Write's
// goroutine and must be safe for concurrent use.
type Meta func(gateway, device string) (area, typ string)

// Rejected is a reading InfluxDB will not store, and why: the server's
// reason, or what makes it impossible to write as line protocol.
type Rejected struct {
	Reading wire.Reading
	Reason  string
}

// Stats are counters since New, for tests and status pages.
type Stats struct {
	// Requests counts HTTP writes sent (whatever their result).
	Requests int64
	// Points counts points InfluxDB accepted.
	Points int64
	// Rejected counts readings returned as rejected.
	Rejected int64
	// Retries counts writes tried again after a backoff.
	Retries int64
	// Pending is the points accepted by Write and not yet written.
	Pending int64
	// Probes counts readiness pings sent while backing off from an
	// unreachable InfluxDB.
	Probes int64
	// ProbeResumes counts outages ended by a probe: a ping answered
	// during the backoff, and the write tried at once then succeeded.
	ProbeResumes int64
}

// Sink writes readings to InfluxDB. Its methods are safe for concurrent
// use; concurrent Write calls share HTTP writes (group commit). Close ends
// it; Write after Close returns ErrClosed.
type Sink struct {
	cfg    Config
	meta   Meta
	log    *slog.Logger
	m      *metrics
	client influxdb2.Client
	api    api.WriteAPIBlocking
	http   *http.Client
	admit  *semaphore.Weighted

	runCtx   context.Context // cancelled by Close when draining ran out of time
	stopRun  context.CancelFunc
	closeCtx context.Context // done when Close starts
	closeNow context.CancelFunc
	wg       sync.WaitGroup

	mu       sync.Mutex
	queue    []*job        // jobs with lines not yet taken, oldest first
	untaken  int           // lines in queue not yet taken
	inflight int           // writers holding a batch
	changed  chan struct{} // closed and replaced when queue or state change
	failing  bool          // the last write failed and is being retried
	attempts int           // failed tries since the last success
	retryAt  time.Time     // no write before this while failing
	// failingSince is when the current outage began (set while failing).
	failingSince time.Time
	// unreachable says the last failed write did not reach InfluxDB at
	// all, so a successful ping may end the backoff.
	unreachable bool
	lastUsed    time.Time // last write attempt or ping

	closed   atomic.Bool
	healthy  atomic.Bool
	requests atomic.Int64
	points   atomic.Int64
	rejected atomic.Int64
	retries  atomic.Int64
	pending  atomic.Int64
	heldJobs atomic.Int64 // Write calls admitted and not yet done

	probes       atomic.Int64
	probeResumes atomic.Int64
}

// New returns a sink writing to the InfluxDB of cfg. It starts the writers
// and a health pinger; it does not wait for InfluxDB to answer. meta may
// be nil (no area or type).
func New(cfg Config, meta Meta) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if meta == nil {
		meta = func(string, string) (string, string) { return "", "" }
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	base := cfg.Transport
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = cfg.Writers + 2
		base = t
	}
	hc := &http.Client{Transport: captureTransport{base: base}}
	opts := influxdb2.DefaultOptions().
		SetHTTPClient(hc).
		SetPrecision(time.Nanosecond).
		SetMaxRetries(0).
		SetLogLevel(0)
	client := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts)
	runCtx, stop := context.WithCancel(context.Background())
	closeCtx, closeNow := context.WithCancel(context.Background())
	s := &Sink{
		cfg:      cfg,
		meta:     meta,
		log:      cfg.Logger,
		m:        m,
		client:   client,
		api:      client.WriteAPIBlocking(cfg.Org, cfg.Bucket),
		http:     hc,
		admit:    semaphore.NewWeighted(int64(cfg.MaxPending)),
		runCtx:   runCtx,
		stopRun:  stop,
		closeCtx: closeCtx,
		closeNow: closeNow,
		changed:  make(chan struct{}),
	}
	for range cfg.Writers {
		s.wg.Add(1)
		go s.writer()
	}
	s.wg.Add(1)
	go s.pinger()
	return s, nil
}

// Write blocks until InfluxDB has accepted every point of readings,
// retrying with backoff while InfluxDB is unreachable or failing for as
// long as ctx lasts; concurrent calls share HTTP writes of up to BatchSize
// points. Readings InfluxDB refuses (a 400/422 naming them, e.g. a field
// type conflict) or that cannot be written as line protocol are returned
// in rejected with the reason, and the rest are still written; the caller
// dead-letters the rejected ones. err is non-nil only when ctx ended or
// the sink was closed before the points were accepted; some of them may
// then be written, which is harmless, as a replay overwrites them.
// readings must not change until Write returns.
func (s *Sink) Write(ctx context.Context, gateway string, readings []wire.Reading) (rejected []Rejected, err error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("write %d readings of gateway %q: %w", len(readings), gateway, ErrClosed)
	}
	j := s.encode(gateway, readings)
	if n := len(j.rejected); n > 0 {
		s.rejected.Add(int64(n))
		s.m.rejected.WithLabelValues("local").Add(float64(n))
	}
	if len(j.ends) == 0 {
		return j.rejected, nil
	}
	if err := s.admitJob(ctx, j); err != nil {
		return nil, fmt.Errorf("write %d readings of gateway %q: wait for room: %w", len(readings), gateway, err)
	}
	if !s.enqueue(j) {
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

// encode turns readings into a job's lines; readings that cannot be
// written are in its rejected list.
func (s *Sink) encode(gateway string, readings []wire.Reading) *job {
	j := &job{
		buf:      nil, // sized after the first line
		ends:     make([]int, 0, len(readings)),
		idx:      make([]int, 0, len(readings)),
		readings: readings,
		done:     make(chan struct{}),
	}
	var (
		lastDevice string
		key        []byte
		keyErr     string
		have       bool
	)
	for i := range readings {
		r := &readings[i]
		if !have || r.Device != lastDevice {
			area, typ := s.meta(gateway, r.Device)
			key, keyErr = AppendSeries(key[:0], SeriesFor(s.cfg.Measurement, gateway, r.Device, area, typ))
			lastDevice, have = r.Device, true
		}
		if keyErr != "" {
			j.rejected = append(j.rejected, Rejected{Reading: *r, Reason: keyErr})
			continue
		}
		n := len(j.buf)
		j.buf = append(j.buf, key...)
		var why string
		if j.buf, why = AppendFields(j.buf, r); why != "" {
			j.buf = j.buf[:n]
			j.rejected = append(j.rejected, Rejected{Reading: *r, Reason: why})
			continue
		}
		if len(j.ends) == 0 {
			// Lines of a batch are alike: reserve room for the rest at once
			// instead of doubling (and copying) as they come.
			j.buf = slices.Grow(j.buf, (len(j.buf)+16)*(len(readings)-i))
		}
		j.ends = append(j.ends, len(j.buf))
		j.idx = append(j.idx, i)
	}
	j.remaining = len(j.ends)
	return j
}

// admitJob waits for room for j's lines under MaxPending (a job larger
// than MaxPending waits for all of it), or until ctx ends or the sink
// closes.
func (s *Sink) admitJob(ctx context.Context, j *job) error {
	j.weight = int64(min(len(j.ends), s.cfg.MaxPending))
	if !s.admit.TryAcquire(j.weight) {
		actx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(s.closeCtx, cancel)
		defer stop()
		if err := s.admit.Acquire(actx, j.weight); err != nil {
			if ctx.Err() == nil {
				return ErrClosed
			}
			return err
		}
	}
	n := int64(len(j.ends))
	s.pending.Add(n)
	s.m.pending.Add(float64(n))
	s.heldJobs.Add(1)
	j.onDone = func(j *job) {
		s.admit.Release(j.weight)
		s.heldJobs.Add(-1)
		s.pending.Add(-n)
		s.m.pending.Sub(float64(n))
	}
	return nil
}

// enqueue queues j for the writers; it reports false if the sink is
// closed.
func (s *Sink) enqueue(j *job) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return false
	}
	j.enq = time.Now()
	s.queue = append(s.queue, j)
	s.untaken += len(j.ends)
	s.notifyLocked()
	return true
}

// notifyLocked wakes every goroutine waiting for a change; s.mu is held.
func (s *Sink) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Healthy reports whether the last write (or ping) to InfluxDB succeeded;
// /readyz uses it. It is false until the first success.
func (s *Sink) Healthy() bool { return s.healthy.Load() }

// Backpressure reports whether writes are currently failing (InfluxDB
// down, overloaded or refusing the configuration) or the points waiting
// to be written reached MaxPending. Ingest stops taking new batches while
// it is true, leaving them with the broker and the gateways' buffers.
func (s *Sink) Backpressure() bool {
	s.mu.Lock()
	failing := s.failing
	s.mu.Unlock()
	return failing || s.pending.Load() >= int64(s.cfg.MaxPending)
}

// Stats returns the sink's counters.
func (s *Sink) Stats() Stats {
	return Stats{
		Requests: s.requests.Load(),
		Points:   s.points.Load(),
		Rejected: s.rejected.Load(),
		Retries:  s.retries.Load(),
		Pending:  s.pending.Load(),

		Probes:       s.probes.Load(),
		ProbeResumes: s.probeResumes.Load(),
	}
}

// Close stops taking writes, keeps writing the points already accepted
// until they are written or ctx ends, then fails what is left with
// ErrClosed and stops.
// It returns ctx's error if points were left unwritten.
func (s *Sink) Close(ctx context.Context) error {
	if s.closed.Swap(true) {
		return nil
	}
	s.closeNow()
	s.mu.Lock()
	s.notifyLocked()
	s.mu.Unlock()
	drained := make(chan struct{})
	go func() { s.wg.Wait(); close(drained) }()
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = fmt.Errorf("close influx sink: %d points not written: %w", s.pending.Load(), ctx.Err())
		s.stopRun()
		<-drained
	}
	s.stopRun()
	s.failQueue()
	s.http.CloseIdleConnections()
	s.client.Close()
	return err
}

// failQueue ends every queued job's untaken lines with ErrClosed.
func (s *Sink) failQueue() {
	s.mu.Lock()
	q := s.queue
	s.queue = nil
	s.untaken = 0
	s.mu.Unlock()
	for _, j := range q {
		if n := len(j.ends) - j.taken; n > 0 {
			j.finish(n, nil, ErrClosed)
		}
	}
}
