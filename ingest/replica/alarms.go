package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ponte-city/ponte/internal/natskv"
	"github.com/ponte-city/ponte/twin/alarms"
)

// Defaults of AlarmsConfig.
const (
	DefaultAlarmsBucket = "ponte-alarms"
	DefaultLeaseBucket  = "ponte-alarms-lease"
	DefaultAckSubject   = "ponte.alarms.ack"
	DefaultLeaseTTL     = 10 * time.Second
)

// leaseKey is the lease bucket's one key: the leader's name.
const leaseKey = "leader"

// maxAckRequest bounds an acknowledgement request the leader reads.
const maxAckRequest = 16 << 10

// AlarmsConfig configures the alarms' shared store.
type AlarmsConfig struct {
	// Bucket holds one key per alarm (its ID), the alarm as JSON.
	Bucket string
	// LeaseBucket holds the lead: the key "leader", written by the
	// instance that evaluates the rules, renewed every LeaseTTL/3 and gone
	// LeaseTTL after its last renewal (the bucket's TTL).
	LeaseBucket string
	// AckSubject is where followers send acknowledgements to the leader.
	AckSubject string
	// LeaseTTL (default DefaultLeaseTTL) bounds how long alarms go
	// unevaluated when the leader dies.
	LeaseTTL time.Duration
	// Instance names this instance in the lease (default the host name and
	// process ID).
	Instance string
}

// Alarms shares a twin/alarms.Engine's alarms among the instances (it
// implements alarms.Shared): one key per alarm in a replicated key-value
// bucket, written by the instance holding the lease with compare-and-swap
// on the revision it last wrote, followed by every other instance through
// a watch; acknowledgements on a follower are requests to the leader.
// See the package doc.
type Alarms struct {
	r     *Replica
	cfg   AlarmsConfig
	log   *slog.Logger
	kv    jetstream.KeyValue
	lease jetstream.KeyValue

	mu   sync.Mutex
	revs map[string]uint64 // the revision of each alarm this leader last saw or wrote
	lost chan struct{}     // closed when a write found another writer
	e    *alarms.Engine
}

var _ alarms.Shared = (*Alarms)(nil)

// OpenAlarms makes (or opens) the alarms' buckets on the replica's
// connection.
func (r *Replica) OpenAlarms(ctx context.Context, cfg AlarmsConfig) (*Alarms, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultAlarmsBucket
	}
	if cfg.LeaseBucket == "" {
		cfg.LeaseBucket = DefaultLeaseBucket
	}
	if cfg.AckSubject == "" {
		cfg.AckSubject = DefaultAckSubject
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.LeaseTTL < time.Second {
		return nil, fmt.Errorf("%w: alarms lease_ttl %s: expected at least 1s", ErrConfig, cfg.LeaseTTL)
	}
	if cfg.Instance == "" {
		host, _ := os.Hostname()
		cfg.Instance = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	s := &Alarms{r: r, cfg: cfg, log: r.log.With("component", "alarms-replica"), revs: map[string]uint64{}, lost: make(chan struct{})}
	for n := 0; ; n++ {
		err := s.setUp(ctx)
		if err == nil {
			return s, nil
		}
		s.log.Warn("replica: set up the alarms' buckets", "bucket", cfg.Bucket, "lease", cfg.LeaseBucket, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("replica: set up the alarms' buckets %s and %s: %w", cfg.Bucket, cfg.LeaseBucket, err)
		case <-time.After(retry.Wait(n)):
		}
	}
}

func (s *Alarms) setUp(ctx context.Context) error {
	open := func(c jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
		ctx, cancel := context.WithTimeout(ctx, setUpTimeout)
		defer cancel()
		return s.r.js.CreateOrUpdateKeyValue(ctx, c)
	}
	var err error
	if s.kv, err = open(jetstream.KeyValueConfig{Bucket: s.cfg.Bucket, History: 1, Replicas: s.r.cfg.Replicas,
		Storage: jetstream.FileStorage, Description: "Ponte: the twin's alarms, one key per alarm"}); err != nil {
		return err
	}
	s.lease, err = open(jetstream.KeyValueConfig{Bucket: s.cfg.LeaseBucket, History: 1, Replicas: s.r.cfg.Replicas,
		TTL: s.cfg.LeaseTTL, Storage: jetstream.FileStorage, Description: "Ponte: which instance evaluates the alarm rules"})
	return err
}

// Run keeps e in step with the cluster until ctx is done: it follows the
// bucket into e, takes the lead when no instance holds it (e.Lead), serves
// the followers' acknowledgements while it leads, and gives the lead up
// (e.Follow) when it cannot renew it within half its TTL or a write finds
// another writer.
func (s *Alarms) Run(ctx context.Context, e *alarms.Engine) error {
	s.mu.Lock()
	s.e = e
	s.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.watch(ctx, e) }()
	s.leadLoop(ctx, e)
	wg.Wait()
	return nil
}

// watch hands every stored alarm to e (a leader ignores them), again
// after the watch broke.
func (s *Alarms) watch(ctx context.Context, e *alarms.Engine) {
	for n := 0; ctx.Err() == nil; n++ {
		w, err := s.kv.WatchAll(ctx)
		if err != nil {
			s.log.Warn("replica: watch the alarms", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(retry.Wait(n)):
			}
			continue
		}
		n = 0
		for entry := range w.Updates() {
			if entry == nil {
				continue // the current values are all delivered
			}
			s.mirror(e, entry)
		}
		_ = w.Stop()
	}
}

// mirror applies one entry of the bucket to e.
func (s *Alarms) mirror(e *alarms.Engine, entry jetstream.KeyValueEntry) {
	if entry.Operation() != jetstream.KeyValuePut {
		e.MirrorDelete(entry.Key(), entry.Revision())
		return
	}
	if a, ok := s.decode(entry); ok {
		e.Mirror(a, entry.Revision())
	}
}

// decode reads an alarm from the bucket; one that is not readable, or
// whose ID is not its key, is logged and ignored.
func (s *Alarms) decode(entry jetstream.KeyValueEntry) (alarms.Alarm, bool) {
	var a alarms.Alarm
	if err := json.Unmarshal(entry.Value(), &a); err != nil || a.ID != entry.Key() {
		s.log.Error("replica: an alarm in the bucket is not readable; ignored", "key", entry.Key(), "revision", entry.Revision(), "err", err)
		return alarms.Alarm{}, false
	}
	return a, true
}

// leadLoop takes and renews the lease.
func (s *Alarms) leadLoop(ctx context.Context, e *alarms.Engine) {
	every := s.cfg.LeaseTTL / 3
	var rev uint64 // the lease's revision while leading
	var renewed time.Time
	var sub *nats.Subscription
	resync := false // gave the lead up: take the stored alarms back
	stepDown := func(why string, err error, release bool) {
		if sub != nil {
			_ = sub.Unsubscribe()
			sub = nil
		}
		if release {
			// Hand the lead on at once rather than after the TTL (refused
			// if another instance holds it already).
			dctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			_ = s.lease.Delete(dctx, leaseKey, jetstream.LastRevision(rev))
			cancel()
		}
		rev = 0
		e.Follow()
		resync = true
		s.log.Warn("replica: alarms lead given up", "why", why, "err", err)
	}
	defer func() {
		if rev != 0 {
			stepDown("stopping", nil, true)
		}
	}()
	for {
		if rev == 0 && resync {
			if list, revs, floor, err := s.load(ctx); err == nil {
				e.Resync(list, revs, floor)
				resync = false
			} else {
				s.log.Warn("replica: read the stored alarms after giving the lead up", "err", err)
			}
		}
		if rev == 0 {
			if r, err := s.tryLead(ctx, e); err == nil && r != 0 {
				rev, renewed = r, time.Now()
				resync = false
				if sub, err = s.r.nc.Subscribe(s.cfg.AckSubject, s.serveAck); err != nil {
					stepDown("subscribe to "+s.cfg.AckSubject, err, true)
				}
			}
		} else {
			uctx, cancel := context.WithTimeout(ctx, every)
			r, err := s.lease.Update(uctx, leaseKey, []byte(s.cfg.Instance), rev)
			cancel()
			switch {
			case err == nil:
				rev, renewed = r, time.Now()
			case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound):
				stepDown("the lease was taken", err, false)
			case time.Since(renewed) > s.cfg.LeaseTTL/2:
				stepDown("the lease could not be renewed", err, true)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.lostCh():
			if rev != 0 {
				stepDown("another instance wrote an alarm", nil, true)
			}
			s.mu.Lock()
			s.lost = make(chan struct{})
			s.mu.Unlock()
		case <-time.After(every):
		}
	}
}

func (s *Alarms) lostCh() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lost
}

// tryLead creates the lease key; on success it reads every stored alarm
// and hands them to e.Lead, and returns the lease's revision (0: another
// instance leads).
func (s *Alarms) tryLead(ctx context.Context, e *alarms.Engine) (uint64, error) {
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	rev, err := s.lease.Create(cctx, leaseKey, []byte(s.cfg.Instance))
	cancel()
	if err != nil {
		return 0, err
	}
	list, revs, _, err := s.load(ctx)
	if err != nil {
		dctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		_ = s.lease.Delete(dctx, leaseKey, jetstream.LastRevision(rev))
		cancel()
		s.log.Warn("replica: read the alarms to take the lead", "err", err)
		return 0, err
	}
	s.mu.Lock()
	s.revs = revs
	s.mu.Unlock()
	e.Lead(list)
	s.log.Info("replica: this instance leads the alarms", "instance", s.cfg.Instance, "alarms", len(list))
	return rev, nil
}

// load reads every alarm in the bucket with its revision, and the
// highest revision of a deletion (an alarm not in the list at or under it
// was deleted).
func (s *Alarms) load(ctx context.Context) ([]alarms.Alarm, map[string]uint64, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, setUpTimeout)
	defer cancel()
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	defer func() { _ = w.Stop() }()
	var list []alarms.Alarm
	revs := map[string]uint64{}
	var floor uint64
	for {
		select {
		case <-ctx.Done():
			return nil, nil, 0, ctx.Err()
		case entry, ok := <-w.Updates():
			if !ok {
				return nil, nil, 0, errors.New("the watch of the alarms ended")
			}
			if entry == nil {
				return list, revs, floor, nil
			}
			if entry.Operation() != jetstream.KeyValuePut {
				floor = max(floor, entry.Revision())
				continue
			}
			if a, ok := s.decode(entry); ok {
				list, revs[a.ID] = append(list, a), entry.Revision()
			}
		}
	}
}

// Put implements alarms.Shared: compare-and-swap on the revision this
// leader last saw of the alarm (create for a new one). A write refused
// because another instance wrote the key means this one no longer leads.
func (s *Alarms) Put(ctx context.Context, a alarms.Alarm) error {
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	s.mu.Lock()
	last := s.revs[a.ID]
	s.mu.Unlock()
	var rev uint64
	if last == 0 {
		rev, err = s.kv.Create(ctx, a.ID, data)
	} else {
		rev, err = s.kv.Update(ctx, a.ID, data, last)
	}
	if err != nil {
		rev, err = s.readBack(ctx, a.ID, data, last, err)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.revs[a.ID] = rev
	s.mu.Unlock()
	return nil
}

// readBack decides what a failed write did: applied with its answer lost
// (the key holds exactly data, after last), or refused because another
// instance wrote the key (this one gives up the lead).
func (s *Alarms) readBack(ctx context.Context, key string, data []byte, last uint64, werr error) (uint64, error) {
	// From the bucket's leader: a replica a moment behind would hide this
	// write, and the next one would then conflict with it.
	got, rev, gerr := natskv.LeaderGet(ctx, s.r.nc, s.cfg.Bucket, key)
	if gerr == nil && rev > last && string(got) == string(data) {
		return rev, nil
	}
	if errors.Is(werr, jetstream.ErrKeyExists) || errors.Is(werr, jetstream.ErrKeyRevisionMismatch) {
		s.mu.Lock()
		select {
		case <-s.lost:
		default:
			close(s.lost)
		}
		s.mu.Unlock()
	}
	return 0, fmt.Errorf("replica: store alarm %s: %w", key, werr)
}

// Delete implements alarms.Shared.
func (s *Alarms) Delete(ctx context.Context, id string) error {
	s.mu.Lock()
	last := s.revs[id]
	delete(s.revs, id)
	s.mu.Unlock()
	var opts []jetstream.KVDeleteOpt
	if last != 0 {
		opts = append(opts, jetstream.LastRevision(last))
	}
	if err := s.kv.Delete(ctx, id, opts...); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("replica: delete alarm %s: %w", id, err)
	}
	return nil
}

// ackRequest and ackAnswer are the followers' requests to the leader.
type ackRequest struct {
	ID     string `json:"id"`
	By     string `json:"by"`
	Remote string `json:"remote,omitempty"`
	Note   string `json:"note,omitempty"`
}

type ackAnswer struct {
	Alarm    alarms.Alarm `json:"alarm"`
	Revision uint64       `json:"revision"`
	// Error is "not_found", "conflict" or "unavailable"; empty on success.
	Error string `json:"error,omitempty"`
}

// ForwardAck implements alarms.Shared.
func (s *Alarms) ForwardAck(ctx context.Context, id, by, remote, note string) (alarms.Alarm, uint64, error) {
	req, err := json.Marshal(ackRequest{ID: id, By: by, Remote: remote, Note: note})
	if err != nil {
		return alarms.Alarm{}, 0, err
	}
	msg, err := s.r.nc.RequestWithContext(ctx, s.cfg.AckSubject, req)
	if err != nil {
		return alarms.Alarm{}, 0, fmt.Errorf("%w: %v", alarms.ErrUnavailable, err)
	}
	var ans ackAnswer
	if err := json.Unmarshal(msg.Data, &ans); err != nil {
		return alarms.Alarm{}, 0, fmt.Errorf("%w: the leader's answer: %v", alarms.ErrUnavailable, err)
	}
	switch ans.Error {
	case "":
		return ans.Alarm, ans.Revision, nil
	case "not_found":
		return ans.Alarm, 0, alarms.ErrNotFound
	case "conflict":
		return ans.Alarm, ans.Revision, alarms.ErrConflict
	default:
		return ans.Alarm, 0, fmt.Errorf("%w: the leader answered %q", alarms.ErrUnavailable, ans.Error)
	}
}

// serveAck answers a follower's acknowledgement (the leader).
func (s *Alarms) serveAck(m *nats.Msg) {
	var req ackRequest
	var ans ackAnswer
	s.mu.Lock()
	e := s.e
	s.mu.Unlock()
	switch {
	case len(m.Data) > maxAckRequest || json.Unmarshal(m.Data, &req) != nil || req.ID == "" || req.By == "":
		ans.Error = "bad_request"
	case !e.Leading():
		ans.Error = "unavailable"
	default:
		a, err := e.Ack(req.ID, req.By, req.Remote, req.Note)
		ans.Alarm = a
		switch {
		case errors.Is(err, alarms.ErrNotFound):
			ans.Error = "not_found"
		case errors.Is(err, alarms.ErrConflict):
			ans.Error = "conflict"
		case err != nil:
			ans.Error = "unavailable"
		}
		s.mu.Lock()
		ans.Revision = s.revs[req.ID]
		s.mu.Unlock()
	}
	data, _ := json.Marshal(ans)
	if err := m.Respond(data); err != nil {
		s.log.Warn("replica: answer an acknowledgement", "alarm", req.ID, "err", err)
	}
}
