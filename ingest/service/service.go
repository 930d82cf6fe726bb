package service

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"

	"github.com/ponte-city/ponte/wire"
)

// Sink writes readings to the time-series store. ingest/app adapts
// *influx.Sink to it.
type Sink interface {
	// Write returns once the store durably accepted the readings, except
	// those it returns as rejected (refused for good, e.g. InfluxDB 400).
	// It may block (retrying) while the store is down, and returns an
	// error only when it gives up (ctx done, or a failure the caller
	// should retry later).
	Write(ctx context.Context, gateway string, readings []wire.Reading) ([]Rejected, error)
	// Healthy reports whether the store is accepting writes; /readyz and
	// HTTP intake's 503 follow it.
	Healthy() bool
}

// Rejected is a reading the sink refused for good, with why.
type Rejected struct {
	Reading wire.Reading
	Reason  string
}

// Applier receives each newly durable reading exactly once (the digital
// twin). Apply is called from the pipeline goroutine of the gateway, in
// sequence order per gateway, after the readings are written and the dedup
// mark persisted, and never for a replay. It must not block for long: the
// gateway's next commits wait for it. b holds only the new readings, with
// their sequence numbers.
type Applier interface {
	Apply(gateway string, epoch uint64, b *wire.Batch)
}

// Job is one payload to process.
type Job struct {
	// Transport is "mqtt" or "http", for dead letters and logs.
	Transport string
	// Topic is the MQTT topic or HTTP path it arrived on.
	Topic string
	// Gateway is the gateway the transport vouches for (the topic's ID, or
	// the HTTP credentials' ID).
	Gateway string
	// Payload is the encoded batch.
	Payload []byte
	// Done receives the result, from the pipeline goroutine; it must not
	// block for long. Exactly one call per submitted job.
	Done func(Result)
}

// Result is the outcome of a Job.
type Result struct {
	// Ack is the acknowledgement to send to the gateway when HasAck.
	Ack    wire.Ack
	HasAck bool
	// Err is nil on success (written or replay), an *InvalidError when the
	// batch was dead-lettered as a whole (drop it: a redelivery would be
	// refused again), or another error when it was not processed
	// (ErrClosed, a context error): leave it unacknowledged so that it is
	// delivered again.
	Err error
	// Written is the number of readings newly written; Duplicates the
	// number dropped as already written; DeadLettered the number refused;
	// Deferred the number not written now because too many gaps are open
	// before them (the gateway sends them again).
	Written, Duplicates, DeadLettered, Deferred int
}

// ErrClosed is the Result.Err of jobs the service did not process because
// it is stopping.
var ErrClosed = errors.New("ingest service stopped")

// InvalidError is a batch refused as a whole and dead-lettered.
type InvalidError struct {
	// Reason is the dead-letter reason (snake_case).
	Reason string
	// Err is the underlying problem.
	Err error
}

// Error implements error.
func (e *InvalidError) Error() string { return fmt.Sprintf("invalid batch (%s): %v", e.Reason, e.Err) }

// Unwrap returns the underlying problem.
func (e *InvalidError) Unwrap() error { return e.Err }

// Service is the ingest pipeline. Submit may be called from any goroutine;
// Run owns the pipeline goroutines.
type Service struct {
	cfg     Config
	m       *metrics
	known   atomic.Pointer[known] // gateways and devices (known.go)
	knownMu sync.Mutex            // serialises SetGateway
	series  *seriesCap

	queues   []chan Job
	stopped  chan struct{}
	stopOnce sync.Once
	closeMu  sync.RWMutex // Submit holds it shared while enqueueing
	closed   bool         // guarded by closeMu
	running  atomic.Bool
	retrying atomic.Int32 // workers in a sink or dedup retry
	chained  atomic.Int64 // readings taken into chains and not committed (train.go)

	gapMu sync.Mutex
	gaps  map[string]Gap // open gaps by gateway, guarded by gapMu
}

// New builds a Service; call Run to start it.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, stopped: make(chan struct{}), gaps: map[string]Gap{}}
	s.known.Store(newKnown(cfg.Gateways, cfg.Devices))
	m, err := newMetrics(cfg.Registerer, s)
	if err != nil {
		return nil, err
	}
	if s.series, err = newSeriesCap(cfg.Registerer, cfg.MaxNewDevices, cfg.Logger); err != nil {
		return nil, err
	}
	s.m = m
	s.queues = make([]chan Job, cfg.Workers)
	for i := range s.queues {
		s.queues[i] = make(chan Job, cfg.QueueLen)
	}
	return s, nil
}

// Run processes submitted jobs until ctx is done; then jobs still queued
// are answered with ErrClosed. It returns nil after a cancellation.
func (s *Service) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("service: Run called twice")
	}
	var wg sync.WaitGroup
	for _, q := range s.queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.work(ctx, q)
		}()
	}
	<-ctx.Done()
	s.stopOnce.Do(func() { close(s.stopped) })
	s.closeMu.Lock()
	s.closed = true
	s.closeMu.Unlock()
	wg.Wait()
	for _, q := range s.queues {
	drain:
		for {
			select {
			case j := <-q:
				j.Done(Result{Err: ErrClosed})
			default:
				break drain
			}
		}
	}
	return nil
}

func (s *Service) work(ctx context.Context, q chan Job) {
	// held: jobs taken from q while gathering a train of another gateway,
	// in their order; at most QueueLen of them, so a worker holds at most
	// twice its queue.
	var held []Job
	defer func() {
		for _, j := range held {
			j.Done(Result{Err: ErrClosed})
		}
	}()
	for {
		j, ok := take(ctx, q, &held)
		if !ok {
			return
		}
		t := &train{q: q, held: &held}
		for _, j := range gather(j, q, &held, s.cfg.QueueLen) {
			t.cars = append(t.cars, s.car(j))
		}
		s.processTrain(ctx, t)
	}
}

// Submit queues j behind the earlier jobs of the same gateway. It blocks
// while that queue is full, and returns an error (without calling j.Done)
// if ctx ends or the service stops first.
func (s *Service) Submit(ctx context.Context, j Job) error {
	h := fnv.New32a()
	h.Write([]byte(j.Gateway))
	q := s.queues[h.Sum32()%uint32(len(s.queues))]
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	select {
	case q <- j:
		return nil
	case <-s.stopped:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("submit batch of %s: %w", j.Gateway, ctx.Err())
	}
}

// Ready reports whether the service can take batches now: the sink is
// healthy and no worker is stuck retrying.
func (s *Service) Ready() bool {
	return s.cfg.Sink.Healthy() && s.retrying.Load() == 0
}
