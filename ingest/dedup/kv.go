package dedup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/ponte-city/ponte/internal/natsauth"
	"github.com/ponte-city/ponte/internal/natskv"
)

// KVConfig configures a KVStore.
type KVConfig struct {
	// URLs are the NATS servers ("nats://host:4222"); any one reachable
	// node of the cluster is enough, the client learns the others.
	URLs []string
	// Bucket is the key-value bucket (default DefaultBucket), created if
	// missing.
	Bucket string
	// Replicas is the bucket's replication factor when it is created
	// (default 3; 1 for a single server).
	Replicas int
	// User and Password, Token, or CredentialsFile (a .creds file: JWT
	// and NKey seed) authenticate to NATS; at most one way.
	User, Password  string
	Token           string
	CredentialsFile string
	// Options are more connection options (ingest's configuration gives
	// its login and TLS this way), applied after the ones above.
	Options []nats.Option
	// Timeout bounds each request to NATS (default 5s); a Lock or Commit
	// that times out is retried by the caller.
	Timeout time.Duration
	// MaxEpochs and MaxRanges are as in Config.
	MaxEpochs, MaxRanges int
	// Logger receives state changes (default slog.Default()).
	Logger *slog.Logger
}

// DefaultBucket is the key-value bucket of the dedup state.
const DefaultBucket = "ponte-dedup"

// Validate checks the configuration and fills in defaults.
func (c *KVConfig) Validate() error {
	errs := natskv.CheckBucket("dedup: nats", c.URLs, &c.Bucket, DefaultBucket, &c.Replicas, &c.Timeout)
	ways := 0
	for _, set := range []bool{c.User != "" || c.Password != "", c.Token != "", c.CredentialsFile != ""} {
		if set {
			ways++
		}
	}
	if ways > 1 {
		errs = append(errs, errors.New("dedup: nats: give user/password, token or credentials, not several"))
	}
	if c.Password != "" && c.User == "" {
		errs = append(errs, errors.New("dedup: nats.user: required with a password"))
	}
	if err := validateLimits(&c.MaxEpochs, &c.MaxRanges); err != nil {
		errs = append(errs, err)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return errors.Join(errs...)
}

// ValidBucket reports whether b can name a key-value bucket: letters,
// digits, '-' and '_'.
func ValidBucket(b string) bool { return natskv.ValidBucket(b) }

// KVStore is the per-gateway state in a JetStream key-value bucket: one
// key per gateway (Key), whose value is the same encoding a FileStore
// slot holds. Instances on several machines share it.
//
// KVStore is safe for concurrent use. Lock excludes the other goroutines
// of this process from a gateway; other instances are not excluded but
// detected: Commit is a compare-and-swap on the revision Lock read, and
// returns ErrConflict when another instance committed in between.
type KVStore struct {
	cfg   KVConfig
	nc    *nats.Conn
	js    jetstream.JetStream
	locks *keyLocks
	// swap writes a state (natskv.Swap; a test makes its answer lost).
	swap func(ctx context.Context, key string, value []byte, h nats.Header, rev uint64) (uint64, error)
}

// OpenKV connects to NATS and opens the bucket, creating it (with
// cfg.Replicas and a history of 1) if missing. A bucket that exists is
// used as it is.
//
// At start the cluster may not answer yet: no node reachable, a node just
// started and still catching up, the meta leader or the bucket stream's
// leader being elected. A request sent meanwhile is refused or never
// answered, so each attempt is bounded (natskv.OpenAttempt times
// cfg.Timeout), each failed attempt is logged at Warn with its cause, and
// attempts go on with a backoff until one succeeds or ctx is done; then
// the last cause is returned (natskv.Open).
func OpenKV(ctx context.Context, cfg KVConfig) (*KVStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := natsauth.Login{User: cfg.User, Password: cfg.Password, Token: cfg.Token,
		CredentialsFile: cfg.CredentialsFile}.Options()
	nc, _, err := natskv.Open(ctx, natskv.Config{What: "dedup", URLs: cfg.URLs, Bucket: cfg.Bucket,
		Replicas: cfg.Replicas, Description: "ponte ingest dedup state: one key per gateway",
		Timeout: cfg.Timeout, Options: append(opts, cfg.Options...), Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("dedup: jetstream: %w", err)
	}
	s := &KVStore{cfg: cfg, nc: nc, js: js, locks: newKeyLocks()}
	s.swap = func(ctx context.Context, key string, value []byte, h nats.Header, rev uint64) (uint64, error) {
		return natskv.Swap(ctx, js, cfg.Bucket, key, value, h, rev)
	}
	return s, nil
}

// Key returns the bucket key of a gateway: letters, digits, '-' and '_'
// as they are, every other byte as '=' and two hex digits ("site.a" is
// "site=2Ea"), so that any gateway ID is a valid key of its own (a '.'
// would be a subject token separator).
func Key(gateway string) string { return natskv.Key(gateway) }

// commitsHeader names the header of a state's message that lists the
// IDs of the last commits it descends from, newest first (at most
// keptCommits, space-separated): a commit whose answer was lost finds
// its own ID there when other instances have since committed over it.
// 64 IDs (1.5 KB) cover a gateway whose batches reach other instances
// at several a second for the whole of a failover's retries (a Timeout
// of 5 s, backoff, a leader's election).
const (
	commitsHeader = "Ponte-Dedup-Commits"
	keptCommits   = 64
)

// kvTx is a KVStore's Tx.
type kvTx struct {
	txState
	s       *KVStore
	key     string
	rev     uint64   // revision loaded (0: the key did not exist)
	commits []string // the IDs the next commit lists after its own
	// id and sent are the commit ID and the value last sent: a retry
	// sending the same value reuses id.
	id   string
	sent []byte
	// unsure is set when a write's outcome was not known (no answer, no
	// read-back): a conflict after it may follow this commit's own write.
	unsure  bool
	release func()
}

// Lock implements Store: it waits for the other goroutines of this
// process holding gateway, then reads its state and revision.
func (s *KVStore) Lock(ctx context.Context, gateway string) (Tx, error) {
	if gateway == "" {
		return nil, errors.New("dedup: lock state: empty gateway ID")
	}
	release, err := s.locks.lock(ctx, gateway)
	if err != nil {
		return nil, fmt.Errorf("dedup: lock state of %s: %w", gateway, err)
	}
	tx := &kvTx{txState: txState{lim: limits{s.cfg.MaxEpochs, s.cfg.MaxRanges, s.cfg.Logger}, gw: gateway},
		s: s, key: Key(gateway), release: release}
	var e natskv.Entry
	if tx.state, e, err = s.load(ctx, gateway, tx.key); err != nil {
		release()
		return nil, err
	}
	tx.rev, tx.commits = e.Revision, commitsOf(e.Header)
	return tx, nil
}

// load reads a gateway's state and its message (revision 0 if none)
// from the stream's leader (see leaderEntry).
func (s *KVStore) load(ctx context.Context, gateway, key string) (Gateway, natskv.Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	e, err := s.leaderEntry(ctx, key)
	if err != nil {
		return nil, e, fmt.Errorf("dedup: read state of %s from bucket %s: %w", gateway, s.cfg.Bucket, err)
	}
	if len(e.Value) == 0 {
		return Gateway{}, e, nil
	}
	g, err := parseGateway(e.Value)
	if err != nil {
		return nil, e, fmt.Errorf("dedup: state of %s in bucket %s, revision %d: %w (%v)", gateway, s.cfg.Bucket, e.Revision, ErrCorruptState, err)
	}
	return g, e, nil
}

// commitsOf is the commit IDs a state's message lists (commitsHeader).
func commitsOf(h nats.Header) []string {
	return strings.Fields(h.Get(commitsHeader))
}

// Commit implements Tx: a compare-and-swap on the revision Lock read
// (natskv.Swap), listing in commitsHeader a commit ID (the same while a
// retry sends the same value) before the IDs the loaded revision listed.
//
// A write may be applied and its answer lost (a node failing over, a
// timeout), and another instance may commit over it before the caller
// retries. The retry must then succeed, not conflict: a conflict makes
// the batch a replay, and nobody would apply it to the twin. So a failed
// write is read back (readBack). It was applied if the key holds its
// value, or a later revision lists its ID (within keptCommits commits).
// The server's deduplication by message ID is not used: it answers a
// write sent again differently with one replica and with several, and
// only within its window; the header works the same everywhere.
func (tx *kvTx) Commit(ctx context.Context) error {
	if !tx.dirty {
		return nil
	}
	tx.prune()
	value := tx.state.appendTo(nil)
	if tx.id == "" || !bytes.Equal(value, tx.sent) {
		tx.id, tx.sent = nuid.Next(), value
	}
	commits := append([]string{tx.id}, tx.commits[:min(len(tx.commits), keptCommits-1)]...)
	s := tx.s
	wctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	rev, err := s.swap(wctx, tx.key, value, nats.Header{commitsHeader: {strings.Join(commits, " ")}}, tx.rev)
	cancel()
	if err != nil {
		rev, err = tx.readBack(ctx, value, err)
	}
	if err != nil {
		return err
	}
	tx.rev, tx.commits, tx.dirty = rev, commits, false
	tx.id, tx.sent, tx.unsure = "", nil, false
	return nil
}

// readBack decides what a failed write did (see Commit): applied if the
// key holds exactly this value at a later revision, or a later revision
// lists this commit's ID; a conflict only if the key was read and shows
// neither; else not known, and the caller retries.
func (tx *kvTx) readBack(ctx context.Context, value []byte, werr error) (uint64, error) {
	s := tx.s
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	e, gerr := s.leaderEntry(ctx, tx.key)
	if gerr != nil {
		tx.unsure = true
		return 0, fmt.Errorf("dedup: commit state of %s to bucket %s: %w (read back: %v)", tx.gw, s.cfg.Bucket, werr, gerr)
	}
	if e.Revision > tx.rev {
		switch {
		case bytes.Equal(e.Value, value):
			s.cfg.Logger.Info("dedup commit applied though its answer was lost", "gateway", tx.gw, "revision", e.Revision, "err", werr)
			return e.Revision, nil
		case slices.Contains(commitsOf(e.Header), tx.id):
			s.cfg.Logger.Info("dedup commit applied though its answer was lost; another instance has committed since",
				"gateway", tx.gw, "revision", e.Revision, "err", werr)
			// The revision stays the one loaded: this Tx's state lacks
			// the other commits, so a further commit on it conflicts.
			return tx.rev, nil
		}
	}
	if errors.Is(werr, jetstream.ErrKeyRevisionMismatch) {
		if tx.unsure {
			s.cfg.Logger.Warn("dedup commit conflicts after an attempt whose outcome was not known; if that attempt was applied "+
				"more than the last commits ago, its batch is taken for a replay and not given to the twin",
				"gateway", tx.gw, "kept_commits", keptCommits, "err", werr)
		}
		return 0, fmt.Errorf("dedup: commit state of %s at revision %d: %w (%v)", tx.gw, tx.rev, ErrConflict, werr)
	}
	tx.unsure = true
	return 0, fmt.Errorf("dedup: commit state of %s to bucket %s: %w", tx.gw, s.cfg.Bucket, werr)
}

// leaderEntry reads key's message from the bucket stream's leader
// (natskv.LeaderEntry): a replica a moment behind it would hide this
// instance's own previous commit, and every commit would conflict once.
func (s *KVStore) leaderEntry(ctx context.Context, key string) (natskv.Entry, error) {
	return natskv.LeaderEntry(ctx, s.nc, s.cfg.Bucket, key)
}

// Unlock implements Tx.
func (tx *kvTx) Unlock() {
	if tx.release != nil {
		tx.release()
		tx.release = nil
	}
}

// Mark implements Store; it reads the bucket without locking.
func (s *KVStore) Mark(ctx context.Context, gateway string, epoch uint64) (uint64, error) {
	g, _, err := s.load(ctx, gateway, Key(gateway))
	if err != nil {
		return 0, err
	}
	return markOf(g, epoch), nil
}

// Close closes the connection to NATS. Call it after the last Tx ended.
func (s *KVStore) Close() error {
	s.nc.Close()
	return nil
}

// keyLocks excludes goroutines of one process from a gateway, waiting
// with a context. It keeps one channel per gateway ever locked (as many
// as the gateways a FileStore keeps files for).
type keyLocks struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func newKeyLocks() *keyLocks { return &keyLocks{m: map[string]chan struct{}{}} }

// lock waits until key is free or ctx is done, and returns its release.
func (l *keyLocks) lock(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	ch := l.m[key]
	if ch == nil {
		ch = make(chan struct{}, 1)
		l.m[key] = ch
	}
	l.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
