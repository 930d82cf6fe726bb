package dedup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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
	kv    jetstream.KeyValue
	locks *keyLocks
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
	nc, kv, err := natskv.Open(ctx, natskv.Config{What: "dedup", URLs: cfg.URLs, Bucket: cfg.Bucket,
		Replicas: cfg.Replicas, Description: "ponte ingest dedup state: one key per gateway",
		Timeout: cfg.Timeout, Options: append(opts, cfg.Options...), Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	return &KVStore{cfg: cfg, nc: nc, kv: kv, locks: newKeyLocks()}, nil
}

// Key returns the bucket key of a gateway: letters, digits, '-' and '_'
// as they are, every other byte as '=' and two hex digits ("site.a" is
// "site=2Ea"), so that any gateway ID is a valid key of its own (a '.'
// would be a subject token separator).
func Key(gateway string) string { return natskv.Key(gateway) }

// kvTx is a KVStore's Tx.
type kvTx struct {
	txState
	s       *KVStore
	key     string
	rev     uint64 // revision loaded (0: the key did not exist)
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
	if tx.state, tx.rev, err = s.load(ctx, gateway, tx.key); err != nil {
		release()
		return nil, err
	}
	return tx, nil
}

// load reads a gateway's state and its revision (empty and 0 if none)
// from the stream's leader (see leaderGet).
func (s *KVStore) load(ctx context.Context, gateway, key string) (Gateway, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	value, rev, err := s.leaderGet(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("dedup: read state of %s from bucket %s: %w", gateway, s.cfg.Bucket, err)
	}
	if len(value) == 0 {
		return Gateway{}, rev, nil
	}
	g, err := parseGateway(value)
	if err != nil {
		return nil, 0, fmt.Errorf("dedup: state of %s in bucket %s, revision %d: %w (%v)", gateway, s.cfg.Bucket, rev, ErrCorruptState, err)
	}
	return g, rev, nil
}

// Commit implements Tx: Update on the revision Lock read (Create if the
// key did not exist). When the answer is an error, the key is read back:
// if it holds exactly this value at a later revision, the write was
// applied and only its answer lost (a node failing over), and Commit
// succeeds; otherwise a wrong-revision answer is ErrConflict.
func (tx *kvTx) Commit(ctx context.Context) error {
	if !tx.dirty {
		return nil
	}
	tx.prune()
	value := tx.state.appendTo(nil)
	s := tx.s
	wctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	var rev uint64
	var err error
	if tx.rev == 0 {
		rev, err = s.kv.Create(wctx, tx.key, value)
	} else {
		rev, err = s.kv.Update(wctx, tx.key, value, tx.rev)
	}
	cancel()
	if err != nil {
		rev, err = tx.readBack(ctx, value, err)
	}
	if err != nil {
		return err
	}
	tx.rev, tx.dirty = rev, false
	return nil
}

// readBack decides what a failed write did (see Commit).
func (tx *kvTx) readBack(ctx context.Context, value []byte, werr error) (uint64, error) {
	s := tx.s
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	got, rev, gerr := s.leaderGet(ctx, tx.key)
	if gerr == nil && rev > tx.rev && bytes.Equal(got, value) {
		s.cfg.Logger.Info("dedup commit applied though its answer was lost", "gateway", tx.gw, "revision", rev, "err", werr)
		return rev, nil
	}
	if errors.Is(werr, jetstream.ErrKeyExists) || errors.Is(werr, jetstream.ErrKeyRevisionMismatch) {
		return 0, fmt.Errorf("dedup: commit state of %s at revision %d: %w (%v)", tx.gw, tx.rev, ErrConflict, werr)
	}
	return 0, fmt.Errorf("dedup: commit state of %s to bucket %s: %w", tx.gw, s.cfg.Bucket, werr)
}

// leaderGet reads key's value and revision from the bucket stream's
// leader (natskv.LeaderGet): a replica a moment behind it would hide this
// instance's own previous commit, and every commit would conflict once.
func (s *KVStore) leaderGet(ctx context.Context, key string) ([]byte, uint64, error) {
	return natskv.LeaderGet(ctx, s.nc, s.cfg.Bucket, key)
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
