package dedup

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
)

// warnings records the Warn (and higher) records a logger receives, as
// "message key=value ...", and copies them to the test's log.
type warnings struct {
	mu   sync.Mutex
	recs []string
	log  *slog.Logger
}

func newWarnings(t *testing.T) *warnings {
	return &warnings{log: testenv.Logger(t, slog.LevelWarn)}
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (w *warnings) Handle(ctx context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	w.mu.Lock()
	w.recs = append(w.recs, b.String())
	w.mu.Unlock()
	return w.log.Handler().Handle(ctx, r)
}

func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

// find returns the recorded records holding every one of subs.
func (w *warnings) find(subs ...string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
next:
	for _, r := range w.recs {
		for _, s := range subs {
			if !strings.Contains(r, s) {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

type openResult struct {
	s   *KVStore
	err error
}

// openAsync calls OpenKV in a goroutine; its result arrives on the
// channel.
func openAsync(ctx context.Context, cfg KVConfig) <-chan openResult {
	ch := make(chan openResult, 1)
	go func() {
		s, err := OpenKV(ctx, cfg)
		ch <- openResult{s, err}
	}()
	return ch
}

// TestOpenKVWaitsForCluster: an ingest starting while the cluster cannot
// yet answer keeps trying instead of exiting, logging each failed attempt
// with its cause, and opens the bucket once the cluster can; with a
// context that ends first it returns the cause. Real nodes, killed and
// started again:
//   - the only node ingest knows is down (connection refused), then up;
//   - two of three nodes are down: the one left has no meta leader and
//     cannot create a bucket of three replicas, until both are back.
func TestOpenKVWaitsForCluster(t *testing.T) {
	c := natstest.Start(t, natstest.Options{Nodes: 3})
	n1, n2, n3 := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	use := func(t *testing.T, r openResult, bucket string) {
		t.Helper()
		if r.err != nil {
			t.Fatalf("OpenKV: %v", r.err)
		}
		defer r.s.Close()
		st, err := bucketOf(t, r.s).Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config; got.Name != "KV_"+bucket || got.Replicas != 3 {
			t.Fatalf("bucket stream %s with %d replicas; want KV_%s with 3", got.Name, got.Replicas, bucket)
		}
		// The first write to a stream whose replicas just came back may
		// outlast the store's 250 ms timeout on a loaded machine; ingest
		// retries a failed commit (service.retry), and so does this.
		for attempt := 0; attempt < 20; attempt++ {
			tx := lockKV(t, r.s, "gw.1")
			tx.Add(1, 1, 5, 0, t0)
			err = tx.Commit(ctx)
			tx.Unlock()
			if err == nil {
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Fatalf("commit to %s after 20 attempts: %v", bucket, err)
	}

	t.Run("node down at start", func(t *testing.T) {
		n1.Kill()
		w := newWarnings(t)
		res := openAsync(ctx, KVConfig{URLs: []string{n1.URL}, Bucket: "start-down", Timeout: 250 * time.Millisecond, Logger: slog.New(w)})
		testenv.Eventually(t, time.Minute, "a logged failed attempt naming the refused connection", func() bool {
			return len(w.find("dedup: open bucket failed; retrying", "attempt=", "connection refused")) > 0
		})
		select {
		case r := <-res:
			t.Fatalf("OpenKV returned while its only node was down: %v", r.err)
		default:
		}
		n1.Start(t)
		use(t, <-res, "start-down")
	})

	t.Run("no quorum at start", func(t *testing.T) {
		n2.Kill()
		n3.Kill()
		w := newWarnings(t)
		cfg := KVConfig{URLs: strings.Split(c.URLs(), ","), Bucket: "no-quorum", Timeout: 250 * time.Millisecond, Logger: slog.New(w)}

		// A context that ends while the cluster cannot answer: the
		// cause is returned, after at least one logged attempt.
		short, cancelShort := context.WithTimeout(ctx, 3*time.Second)
		r := <-openAsync(short, cfg)
		cancelShort()
		if r.err == nil {
			r.s.Close()
			t.Fatal("OpenKV opened a bucket of three replicas on one node of three")
		}
		if msg := r.err.Error(); !strings.Contains(msg, "open bucket no-quorum") || !strings.Contains(msg, "gave up after") {
			t.Errorf("error %q does not name the bucket and the attempts", msg)
		}
		if len(w.find("dedup: open bucket failed; retrying", "bucket=no-quorum", "err=")) == 0 {
			t.Error("no failed attempt logged before giving up")
		}

		// A context that outlasts the outage: OpenKV waits for it.
		before := len(w.find("dedup: open bucket failed"))
		res := openAsync(ctx, cfg)
		testenv.Eventually(t, time.Minute, "a failed attempt of the second OpenKV", func() bool {
			return len(w.find("dedup: open bucket failed")) > before
		})
		n2.Start(t)
		n3.Start(t)
		use(t, <-res, "no-quorum")
	})
}
