// Package natskv is what the parts of ingest that keep state in a
// replicated JetStream key-value bucket (the dedup state, the enrolment
// registry) share: opening the bucket while the cluster may not answer
// yet, reading a key from the bucket stream's leader, a compare-and-swap
// with headers, and turning any ID into a key.
package natskv

import (
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
)

// Config says which bucket to open and how.
type Config struct {
	// What names the user in logs and errors ("dedup", "enrol").
	What string
	// URLs are the NATS servers; any reachable node is enough.
	URLs []string
	// Bucket, Replicas and Description make the bucket when it is
	// missing (history 1, file storage); a bucket that exists is used as
	// it is.
	Bucket      string
	Replicas    int
	Description string
	// Timeout bounds each request (an attempt to open: OpenAttempt times
	// it).
	Timeout time.Duration
	// Options are the connection's login and TLS (natsauth), applied
	// after the client name and reconnect options.
	Options []nats.Option
	Logger  *slog.Logger
}

// OpenAttempt bounds one attempt of Open in units of Config.Timeout:
// creating a replicated bucket waits for its replicas to elect a leader.
const OpenAttempt = 4

// openRetry is the backoff between Open's attempts.
var openRetry = backoff.Policy{Base: 250 * time.Millisecond, Max: 5 * time.Second, Jitter: backoff.Equal}

// Open connects to NATS and opens the bucket, creating it if missing.
//
// At start the cluster may not answer yet: no node reachable, a node just
// started and still catching up, the meta leader or the bucket stream's
// leader being elected. A request sent meanwhile is refused or never
// answered, so each attempt is bounded, each failed attempt is logged at
// Warn with its cause ("<what>: open bucket failed; retrying"), and
// attempts go on with a backoff until one succeeds or ctx is done; then
// the last cause is returned.
func Open(ctx context.Context, cfg Config) (*nats.Conn, jetstream.KeyValue, error) {
	var dial lastErr // why the connection to NATS failed last
	opts := []nats.Option{
		nats.Name("ponte-ingest " + cfg.What), nats.Timeout(cfg.Timeout),
		nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		// No node reachable yet is one more failed attempt, not an exit.
		nats.RetryOnFailedConnect(true),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { dial.set(err) }),
	}
	opts = append(opts, cfg.Options...)
	urls := strings.Join(cfg.URLs, ",")
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: connect to nats %s: %w", cfg.What, urls, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("%s: jetstream: %w", cfg.What, err)
	}
	for n := 0; ; n++ {
		kv, err := openBucket(ctx, js, cfg)
		if err == nil {
			cfg.Logger.Info(cfg.What+" bucket opened", "nats", nc.ConnectedUrlRedacted(), "bucket", cfg.Bucket, "attempts", n+1)
			return nc, kv, nil
		}
		// While no node is reachable the request only times out: the
		// last dial's error says why.
		if !nc.IsConnected() {
			err = fmt.Errorf("%w (no node reachable, last: %v)", err, dial.get())
		}
		wait := openRetry.Wait(n)
		cfg.Logger.Warn(cfg.What+": open bucket failed; retrying", "bucket", cfg.Bucket, "nats", urls,
			"attempt", n+1, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			nc.Close()
			return nil, nil, fmt.Errorf("%w (nats %s; gave up after %d attempts: %v)", err, urls, n+1, context.Cause(ctx))
		case <-time.After(wait):
		}
	}
}

// openBucket makes one attempt to create or open the bucket.
func openBucket(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.KeyValue, error) {
	ctx, cancel := context.WithTimeout(ctx, OpenAttempt*cfg.Timeout)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: cfg.Bucket, History: 1, Replicas: cfg.Replicas, Storage: jetstream.FileStorage,
		Description: cfg.Description,
	})
	if errors.Is(err, jetstream.ErrBucketExists) {
		// Made with another configuration (replicas changed by the
		// operator): use it as it is.
		kv, err = js.KeyValue(ctx, cfg.Bucket)
		if err == nil {
			cfg.Logger.Warn(cfg.What+" bucket exists with another configuration than asked; used as it is", "bucket", cfg.Bucket, "replicas_asked", cfg.Replicas)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: open bucket %s: %w", cfg.What, cfg.Bucket, err)
	}
	return kv, nil
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

// LeaderGet reads key's value and revision from the bucket stream's
// leader. KeyValue.Get may be answered by a replica a moment behind it,
// which would hide a write just applied (this instance's own previous
// write: a compare-and-swap on the revision it read would then conflict
// once). A key never written has revision 0; a deleted or purged one is
// empty at its marker's revision.
func LeaderGet(ctx context.Context, nc *nats.Conn, bucket, key string) ([]byte, uint64, error) {
	e, err := LeaderEntry(ctx, nc, bucket, key)
	return e.Value, e.Revision, err
}

// Entry is a key's latest message: its value, revision and headers. A
// key never written is the zero Entry; a deleted or purged one has no
// Value, and its marker's revision and headers.
type Entry struct {
	Value    []byte
	Revision uint64
	Header   nats.Header
}

// LeaderEntry is LeaderGet with the message's headers (nil if none).
func LeaderEntry(ctx context.Context, nc *nats.Conn, bucket, key string) (Entry, error) {
	req, err := json.Marshal(map[string]string{"last_by_subj": subject(bucket, key)})
	if err != nil {
		return Entry{}, err
	}
	msg, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return Entry{}, err
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
		return Entry{}, fmt.Errorf("answer of the stream leader: %w", err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return Entry{}, nil
	case resp.Error != nil:
		return Entry{}, resp.Error
	case resp.Message == nil:
		return Entry{}, errors.New("answer of the stream leader holds no message")
	}
	m := resp.Message
	e := Entry{Value: m.Data, Revision: m.Seq}
	if len(m.Hdrs) > 0 {
		if e.Header, err = nats.DecodeHeadersMsg(m.Hdrs); err != nil {
			return Entry{}, fmt.Errorf("headers of revision %d: %w", m.Seq, err)
		}
		if op := e.Header.Get("KV-Operation"); op == "DEL" || op == "PURGE" {
			e.Value = nil
		}
	}
	return e, nil
}

// Swap writes value with header at key if the key is at revision rev, as
// KeyValue.Update does (which takes no headers), and returns the new
// revision. rev 0 means no message on the key's subject (never written,
// or its marker purged); a deleted key is at its marker's revision. Swap
// adds the expected revision to header, which may be nil. A wrong
// revision wraps jetstream.ErrKeyRevisionMismatch.
func Swap(ctx context.Context, js jetstream.JetStream, bucket, key string, value []byte, header nats.Header, rev uint64) (uint64, error) {
	m := &nats.Msg{Subject: subject(bucket, key), Header: header, Data: value}
	pa, err := js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(rev))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return 0, fmt.Errorf("%w: %w", err, jetstream.ErrKeyRevisionMismatch)
		}
		return 0, err
	}
	return pa.Sequence, nil
}

// subject is the stream subject of a bucket's key.
func subject(bucket, key string) string { return "$KV." + bucket + "." + key }

// Key returns a bucket key for an ID: letters, digits, '-' and '_' as
// they are, every other byte as '=' and two hex digits ("site.a" is
// "site=2Ea"), so that any ID is a valid key of its own (a '.' would be a
// subject token separator).
func Key(id string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
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

// CheckBucket checks the servers, bucket, replicas and timeout of a
// bucket's configuration and fills in their defaults (bucket def, three
// replicas, 5 s); its errors name the fields under field ("dedup:
// nats", "enrolment.nats").
func CheckBucket(field string, urls []string, bucket *string, def string, replicas *int, timeout *time.Duration) []error {
	var errs []error
	if len(urls) == 0 {
		errs = append(errs, fmt.Errorf("%s.urls: required (e.g. [nats://127.0.0.1:4222])", field))
	}
	for i, u := range urls {
		if u == "" || strings.Contains(u, ",") {
			errs = append(errs, fmt.Errorf("%s.urls[%d]: %q (expected one URL such as nats://host:4222)", field, i, u))
		}
	}
	if *bucket == "" {
		*bucket = def
	}
	if !ValidBucket(*bucket) {
		errs = append(errs, fmt.Errorf("%s.bucket: %q (expected letters, digits, '-' and '_')", field, *bucket))
	}
	if *replicas == 0 {
		*replicas = 3
	}
	if *replicas < 1 || *replicas > 5 {
		errs = append(errs, fmt.Errorf("%s.replicas: %d (expected 1 to 5; 3 for a three-node cluster)", field, *replicas))
	}
	if *timeout < 0 {
		errs = append(errs, fmt.Errorf("%s.timeout: %v (expected a positive duration)", field, *timeout))
	}
	if *timeout == 0 {
		*timeout = 5 * time.Second
	}
	return errs
}
