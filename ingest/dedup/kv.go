package dedup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ponte-city/ponte/internal/backoff"
	"github.com/ponte-city/ponte/internal/natsauth"
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
	var errs []error
	if len(c.URLs) == 0 {
		errs = append(errs, errors.New("dedup: nats.urls: required (e.g. [nats://127.0.0.1:4222])"))
	}
	for i, u := range c.URLs {
		if u == "" || strings.Contains(u, ",") {
			errs = append(errs, fmt.Errorf("dedup: nats.urls[%d]: %q (expected one URL such as nats://host:4222)", i, u))
		}
	}
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if !ValidBucket(c.Bucket) {
		errs = append(errs, fmt.Errorf("dedup: nats.bucket: %q (expected letters, digits, '-' and '_')", c.Bucket))
	}
	if c.Replicas == 0 {
		c.Replicas = 3
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("dedup: nats.replicas: %d (expected 1 to 5; 3 for a three-node cluster)", c.Replicas))
	}
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
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("dedup: nats.timeout: %v (expected a positive duration)", c.Timeout))
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
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
func ValidBucket(b string) bool {
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return b != ""
}

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
// answered, so each attempt is bounded (openAttempt times cfg.Timeout),
// each failed attempt is logged at Warn with its cause, and attempts go on
// with a backoff until one succeeds or ctx is done; then the last cause is
// returned.
func OpenKV(ctx context.Context, cfg KVConfig) (*KVStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var dial lastErr // why the connection to NATS failed last
	opts := []nats.Option{
		nats.Name("ponte-ingest dedup"), nats.Timeout(cfg.Timeout),
		nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		// No node reachable yet is one more failed attempt, not an exit.
		nats.RetryOnFailedConnect(true),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { dial.set(err) }),
	}
	opts = append(opts, natsauth.Login{User: cfg.User, Password: cfg.Password, Token: cfg.Token,
		CredentialsFile: cfg.CredentialsFile}.Options()...)
	opts = append(opts, cfg.Options...)
	urls := strings.Join(cfg.URLs, ",")
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		return nil, fmt.Errorf("dedup: connect to nats %s: %w", urls, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("dedup: jetstream: %w", err)
	}
	for n := 0; ; n++ {
		kv, err := openBucket(ctx, js, cfg)
		if err == nil {
			cfg.Logger.Info("dedup state opened", "nats", nc.ConnectedUrlRedacted(), "bucket", cfg.Bucket, "attempts", n+1)
			return &KVStore{cfg: cfg, nc: nc, kv: kv, locks: newKeyLocks()}, nil
		}
		// While no node is reachable the request only times out: the
		// last dial's error says why.
		if !nc.IsConnected() {
			err = fmt.Errorf("%w (no node reachable, last: %v)", err, dial.get())
		}
		wait := openRetry.Wait(n)
		cfg.Logger.Warn("dedup: open bucket failed; retrying", "bucket", cfg.Bucket, "nats", urls,
			"attempt", n+1, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			nc.Close()
			return nil, fmt.Errorf("%w (nats %s; gave up after %d attempts: %v)", err, urls, n+1, context.Cause(ctx))
		case <-time.After(wait):
		}
	}
}

// lastErr is the last error a nats.go callback reported.
type lastErr struct {
	mu  sync.Mutex
	err error
}

func (l *lastErr) set(err error) {
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
}

func (l *lastErr) get() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// openRetry is the backoff between OpenKV's attempts.
var openRetry = backoff.Policy{Base: 250 * time.Millisecond, Max: 5 * time.Second, Jitter: backoff.Equal}

// openAttempt bounds one attempt of OpenKV in units of KVConfig.Timeout:
// creating a replicated bucket waits for its replicas to elect a leader.
const openAttempt = 4

// openBucket makes one attempt to create or open the bucket.
func openBucket(ctx context.Context, js jetstream.JetStream, cfg KVConfig) (jetstream.KeyValue, error) {
	ctx, cancel := context.WithTimeout(ctx, openAttempt*cfg.Timeout)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: cfg.Bucket, History: 1, Replicas: cfg.Replicas, Storage: jetstream.FileStorage,
		Description: "ponte ingest dedup state: one key per gateway",
	})
	if errors.Is(err, jetstream.ErrBucketExists) {
		// Made with another configuration (replicas changed by the
		// operator): use it as it is.
		kv, err = js.KeyValue(ctx, cfg.Bucket)
		if err == nil {
			cfg.Logger.Warn("dedup bucket exists with another configuration than asked; used as it is", "bucket", cfg.Bucket, "replicas_asked", cfg.Replicas)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("dedup: open bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// Key returns the bucket key of a gateway: letters, digits, '-' and '_'
// as they are, every other byte as '=' and two hex digits ("site.a" is
// "site=2Ea"), so that any gateway ID is a valid key of its own (a '.'
// would be a subject token separator).
func Key(gateway string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(gateway); i++ {
		c := gateway[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

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
// leader. KeyValue.Get may be answered by a replica a moment behind it,
// which would hide a write just applied (this instance's own previous
// commit: every commit would then conflict once). A key never written
// has revision 0; a deleted or purged one is empty at its marker's
// revision.
func (s *KVStore) leaderGet(ctx context.Context, key string) ([]byte, uint64, error) {
	req, err := json.Marshal(map[string]string{"last_by_subj": "$KV." + s.cfg.Bucket + "." + key})
	if err != nil {
		return nil, 0, err
	}
	msg, err := s.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+s.cfg.Bucket, req)
	if err != nil {
		return nil, 0, err
	}
	var resp struct {
		Message *struct {
			Seq  uint64 `json:"seq"`
			Hdrs []byte `json:"hdrs"`
			Data []byte `json:"data"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, 0, fmt.Errorf("answer of the stream leader: %w", err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return nil, 0, nil
	case resp.Error != nil:
		return nil, 0, resp.Error
	case resp.Message == nil:
		return nil, 0, errors.New("answer of the stream leader holds no message")
	}
	m := resp.Message
	if len(m.Hdrs) > 0 {
		h, err := nats.DecodeHeadersMsg(m.Hdrs)
		if err != nil {
			return nil, 0, fmt.Errorf("headers of revision %d: %w", m.Seq, err)
		}
		if op := h.Get("KV-Operation"); op == "DEL" || op == "PURGE" {
			return nil, m.Seq, nil
		}
	}
	return m.Data, m.Seq, nil
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
