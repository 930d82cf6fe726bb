package replica

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/internal/backoff"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// Replica publishes an instance's applied batches to the applied stream
// and feeds its twin from that stream (see the package doc). Apply may be
// called from several goroutines; Restore, then Run, once.
type Replica struct {
	cfg  Config
	log  *slog.Logger
	m    *metrics
	nc   *nats.Conn
	js   jetstream.JetStream
	objs jetstream.ObjectStore

	stop     chan struct{} // closed: publishes give up
	stopOnce sync.Once
	inflight sync.WaitGroup

	caughtUp     chan struct{}
	caughtUpOnce sync.Once

	// applyMu is held while the follower applies a message and while a
	// snapshot is taken, so that the marks match the twin's state.
	applyMu sync.Mutex
	marks   marks
}

var _ service.Applier = (*Replica)(nil)

// retry is the backoff between failed publishes and consumer restarts.
var retry = backoff.Policy{Base: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: backoff.Equal}

// opTimeout bounds one request to the cluster (a publish, a snapshot
// read): a request sent to a node that just died is lost, not answered,
// and is retried on the next.
const opTimeout = 5 * time.Second

// setUpTimeout bounds one attempt to create or update the stream or the
// bucket: the answer comes once the replicas elected the stream's
// leader, which takes seconds on a loaded cluster.
const setUpTimeout = 15 * time.Second

// Open connects to the NATS servers and makes (or updates) the applied
// stream and the snapshot bucket.
func Open(ctx context.Context, cfg Config) (*Replica, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	r := &Replica{cfg: cfg, log: cfg.Logger.With("component", "replica"), m: m,
		stop: make(chan struct{}), caughtUp: make(chan struct{}), marks: marks{}}
	opts := append([]nats.Option{nats.Name(cfg.Name), nats.MaxReconnects(-1),
		nats.ReconnectWait(200 * time.Millisecond), nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			r.log.Warn("replica: disconnected from nats", "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { r.log.Info("replica: reconnected to nats", "url", c.ConnectedUrl()) })},
		cfg.Options...)
	r.nc, err = nats.Connect(cfg.URLs, opts...)
	if err != nil {
		return nil, fmt.Errorf("replica: connect to %s: %w", cfg.URLs, err)
	}
	if r.js, err = jetstream.New(r.nc); err != nil {
		r.nc.Close()
		return nil, fmt.Errorf("replica: jetstream: %w", err)
	}
	sc := jetstream.StreamConfig{Name: cfg.Stream, Subjects: []string{cfg.Subject},
		Description: "Ponte: batches written by ingest, followed by every instance's twin",
		Replicas:    cfg.Replicas, Storage: jetstream.FileStorage, Retention: jetstream.LimitsPolicy,
		Discard: jetstream.DiscardOld, MaxAge: cfg.MaxAge, MaxBytes: cfg.MaxBytes,
		MaxMsgSize: wire.MaxBatchBytes + 1024, Duplicates: min(DuplicateWindow, cfg.MaxAge)}
	oc := jetstream.ObjectStoreConfig{Bucket: cfg.Bucket, Description: "Ponte: snapshots of the twin",
		Replicas: cfg.Replicas, Storage: jetstream.FileStorage}
	// The cluster may still be electing leaders, and a request sent to a
	// node that dies or loses its leadership meanwhile is never answered:
	// each attempt has its own deadline, and attempts go on within ctx.
	for n := 0; ; n++ {
		if err = r.setUp(ctx, sc, oc); err == nil {
			return r, nil
		}
		r.log.Warn("replica: set up the applied stream and snapshot bucket", "stream", cfg.Stream, "bucket", cfg.Bucket, "err", err)
		select {
		case <-ctx.Done():
			r.nc.Close()
			return nil, fmt.Errorf("replica: set up stream %s and bucket %s: %w", cfg.Stream, cfg.Bucket, err)
		case <-time.After(retry.Wait(n)):
		}
	}
}

// setUp makes (or updates) the applied stream and the snapshot bucket,
// each request within setUpTimeout.
func (r *Replica) setUp(ctx context.Context, sc jetstream.StreamConfig, oc jetstream.ObjectStoreConfig) error {
	sctx, cancel := context.WithTimeout(ctx, setUpTimeout)
	_, err := r.js.CreateOrUpdateStream(sctx, sc)
	cancel()
	if err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, setUpTimeout)
	defer cancel()
	r.objs, err = r.js.CreateOrUpdateObjectStore(octx, oc)
	return err
}

// Apply publishes a newly written batch to the applied stream (it
// implements service.Applier), retrying until it is stored or the replica
// stops (see the package doc).
func (r *Replica) Apply(gateway string, epoch uint64, b *wire.Batch) {
	if b == nil || len(b.Readings) == 0 {
		return
	}
	r.inflight.Add(1)
	defer r.inflight.Done()
	data, err := wire.Encode(nil, &wire.Batch{Gateway: gateway, Epoch: epoch, From: b.From, Retained: b.Retained, Seqs: b.Seqs, Readings: b.Readings})
	if err != nil {
		// The service checked the batch: this is a bug, not a fault.
		r.m.unpublished.Inc()
		r.log.Error("replica: encode a batch for the applied stream", "gateway", gateway, "epoch", epoch, "err", err)
		return
	}
	id := fmt.Sprintf("%s/%d/%d-%d", gateway, epoch, b.First(), b.Last())
	for n := 0; ; n++ {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		_, err := r.js.Publish(ctx, r.cfg.Subject, data, jetstream.WithMsgID(id), jetstream.WithExpectStream(r.cfg.Stream))
		cancel()
		if err == nil {
			r.m.published.Inc()
			if n > 0 {
				r.log.Info("replica: published after retries", "id", id, "attempts", n+1)
			}
			return
		}
		r.m.retries.Inc()
		r.log.Warn("replica: publish to the applied stream failed; retrying", "id", id, "attempt", n+1, "err", err)
		select {
		case <-r.stop:
			r.m.unpublished.Inc()
			r.log.Error("replica: stopping with a batch unpublished; the other instances' twins miss it",
				"id", id, "readings", len(b.Readings))
			return
		case <-time.After(retry.Wait(n)):
		}
	}
}

// Restore loads the latest snapshot into tw (twin.Restore), or, without
// one, makes tw follow the stream from scratch (twin.Follow). Call it
// before tw serves subscribers, then Run.
func (r *Replica) Restore(ctx context.Context, tw *twin.Twin) error {
	cp, size, err := r.loadSnapshot(ctx)
	if err != nil {
		r.m.snapshotErrs.Inc()
		return err
	}
	if cp == nil {
		r.log.Info("replica: no twin snapshot; following the applied stream from the indicator window", "window", r.cfg.Window)
		tw.Follow(0)
		return nil
	}
	m, err := decodeMarks(cp.Extra)
	if err != nil {
		// The twin's state is good; without the marks a batch published
		// twice around the snapshot could be applied twice. Say so.
		r.m.snapshotErrs.Inc()
		r.log.Error("replica: the snapshot's applied marks do not decode; starting without them", "err", err)
		m = marks{}
	}
	r.applyMu.Lock()
	r.marks = m
	tw.Restore(cp)
	r.applyMu.Unlock()
	r.m.snapshotBytes.Set(float64(size))
	r.log.Info("replica: twin restored from its snapshot", "applied", cp.Applied, "taken", cp.Taken, "bytes", size, "batches", len(cp.Batches))
	return nil
}

// CaughtUp is closed once Run has applied every message the stream held
// when it started following it.
func (r *Replica) CaughtUp() <-chan struct{} { return r.caughtUp }

// Run follows the applied stream into tw and writes its snapshots until
// ctx is done; then it lets a failing publish retry for CloseGrace and
// returns nil.
func (r *Replica) Run(ctx context.Context, tw *twin.Twin) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.snapshots(ctx, tw)
	}()
	r.follow(ctx, tw)
	<-done
	idle := make(chan struct{})
	go func() { r.inflight.Wait(); close(idle) }()
	select {
	case <-idle:
	case <-time.After(r.cfg.CloseGrace):
	}
	r.stopPublishing()
	return nil
}

func (r *Replica) stopPublishing() { r.stopOnce.Do(func() { close(r.stop) }) }

// Close gives up failing publishes and closes the connection.
func (r *Replica) Close() {
	r.stopPublishing()
	r.nc.Close()
}
