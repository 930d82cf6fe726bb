package influx

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
	// Points counts readings InfluxDB accepted (fields: the readings of a
	// device at one time share a line, see the package doc).
	Points int64
	// Rejected counts readings returned as rejected.
	Rejected int64
	// Retries counts writes tried again after a backoff.
	Retries int64
	// Pending is the readings queued by Write and not yet written.
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
//
// A Sink is a queue (the callers' side: lines waiting, back-pressure,
// batching; queue.go) and a client (InfluxDB's side: HTTP writes, retries,
// probes, refusals; client.go, retry.go), joined by Config.Writers flush
// loops that take batches from the one and deliver them with the other,
// and a pinger keeping Healthy current. The Sink owns those goroutines.
type Sink struct {
	q *queue
	c *client

	stopFlush func() // ends the flush loops, failing held batches with ErrClosed
	flushing  sync.WaitGroup
	stopPing  func() // ends the pinger
	pinging   sync.WaitGroup
}

// New returns a sink writing to the InfluxDB of cfg. It starts the flush
// loops and a health pinger; it does not wait for InfluxDB to answer.
// meta may be nil (no area or type).
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
	q := newQueue(cfg, meta, m)
	c := newClient(cfg, m, q.wake, q.held.Load)
	flushCtx, stopFlush := context.WithCancel(context.Background())
	pingCtx, stopPing := context.WithCancel(context.Background())
	s := &Sink{q: q, c: c, stopFlush: stopFlush, stopPing: stopPing}
	for range cfg.Writers {
		s.flushing.Go(func() { q.flush(flushCtx, c) })
	}
	s.pinging.Go(func() { c.pinger(pingCtx) })
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
	return s.q.write(ctx, gateway, readings)
}

// Healthy reports whether the last write (or ping) to InfluxDB succeeded;
// /readyz uses it. It is false until the first success.
func (s *Sink) Healthy() bool { return s.c.healthy() }

// Backpressure reports whether writes are currently failing (InfluxDB
// down, overloaded or refusing the configuration) or the points waiting
// to be written reached MaxPending. Ingest stops taking new batches while
// it is true, leaving them with the broker and the gateways' buffers.
func (s *Sink) Backpressure() bool { return s.c.failing() || s.q.full() }

// Stats returns the sink's counters.
func (s *Sink) Stats() Stats {
	st := s.c.stats()
	st.Rejected += s.q.rejected.Load()
	st.Pending = s.q.pending.Load()
	return st
}

// Close stops taking writes, keeps writing the points already accepted
// until they are written or ctx ends, then fails what is left with
// ErrClosed and stops.
// It returns ctx's error if points were left unwritten.
func (s *Sink) Close(ctx context.Context) error {
	if !s.q.close() {
		return nil
	}
	s.stopPing()
	drained := make(chan struct{})
	go func() { s.flushing.Wait(); close(drained) }()
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = fmt.Errorf("close influx sink: %d points not written: %w", s.q.pending.Load(), ctx.Err())
		s.stopFlush()
		<-drained
	}
	s.stopFlush()
	s.pinging.Wait()
	s.q.failRest()
	s.c.close()
	return err
}
