package dedup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ponte-city/ponte/internal/natstest"
)

// openKV opens a KVStore on bucket of cluster c: each call is one more
// ingest instance (its own connection).
func openKV(t testing.TB, c *natstest.Cluster, bucket string) *KVStore {
	t.Helper()
	return openKVReplicas(t, c, bucket, 0)
}

// openKVReplicas is openKV with the bucket's replicas (0: the default).
func openKVReplicas(t testing.TB, c *natstest.Cluster, bucket string, replicas int) *KVStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := OpenKV(ctx, KVConfig{URLs: strings.Split(c.URLs(), ","), Bucket: bucket, Replicas: replicas, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// bucketOf is the KeyValue handle of s's bucket.
func bucketOf(t testing.TB, s *KVStore) jetstream.KeyValue {
	t.Helper()
	kv, err := s.js.KeyValue(context.Background(), s.cfg.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// commitRange records seqs start to last of epoch 1 for gw in s, as one
// instance's commit of a batch.
func commitRange(t *testing.T, s Store, gw string, start, last uint64) {
	t.Helper()
	tx := lockKV(t, s, gw)
	defer tx.Unlock()
	tx.Add(1, start, last, 0, t0)
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func lockKV(t *testing.T, s Store, gw string) Tx {
	t.Helper()
	tx, err := s.Lock(context.Background(), gw)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestKVStore: on a three-node cluster, a new gateway's state is empty; a
// commit is seen by a second Store (another instance); of two instances
// that loaded the same revision the second to commit gets ErrConflict
// (for a new key and for an existing one) and stores nothing; reloaded,
// it commits, and nothing either wrote is lost.
func TestKVStore(t *testing.T) {
	c := natstest.Start(t, natstest.Options{Nodes: 3})
	ctx := context.Background()
	a, b := openKV(t, c, "dedup-test"), openKV(t, c, "dedup-test")
	st, err := bucketOf(t, a).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config; cfg.Replicas != 3 || cfg.MaxMsgsPerSubject != 1 {
		t.Fatalf("bucket made with %d replicas and history %d; want 3 and 1", cfg.Replicas, cfg.MaxMsgsPerSubject)
	}

	if m, err := a.Mark(ctx, "gw.1", 7); err != nil || m != 0 {
		t.Fatalf("Mark of a new gateway = %d, %v; want 0, nil", m, err)
	}
	txA, txB := lockKV(t, a, "gw.1"), lockKV(t, b, "gw.1")
	if e := txA.Epoch(7); e.Mark != 0 || len(e.Ahead) != 0 {
		t.Fatalf("new gateway's epoch: %+v", e)
	}
	txA.Add(7, 1, 10, 0, t0)
	if err := txA.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	txA.Unlock()
	txB.Add(7, 11, 20, 0, t0)
	if err := txB.Commit(ctx); !errors.Is(err, ErrConflict) {
		t.Fatalf("second create of one key: %v; want ErrConflict", err)
	}
	txB.Unlock()
	if m, _ := b.Mark(ctx, "gw.1", 7); m != 10 {
		t.Fatalf("mark after the conflicting create %d, want 10 (the conflicting commit stored nothing)", m)
	}

	// The same on an existing key: both load revision r.
	txA, txB = lockKV(t, a, "gw.1"), lockKV(t, b, "gw.1")
	txA.Add(7, 21, 30, 0, t0)
	if err := txA.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	txA.Unlock()
	txB.Add(7, 11, 20, 0, t0)
	if err := txB.Commit(ctx); !errors.Is(err, ErrConflict) {
		t.Fatalf("update on a stale revision: %v; want ErrConflict", err)
	}
	txB.Unlock()
	txB = lockKV(t, b, "gw.1")
	if e := txB.Epoch(7); e.Mark != 10 || !reflect.DeepEqual(e.Ahead, []Range{{21, 30}}) {
		t.Fatalf("reloaded after the conflict: mark %d ahead %v; want 10 [{21 30}]", e.Mark, e.Ahead)
	}
	txB.Add(7, 11, 20, 0, t0)
	if err := txB.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	txB.Unlock()

	// A third instance sees everything both wrote.
	third := openKV(t, c, "dedup-test")
	tx := lockKV(t, third, "gw.1")
	defer tx.Unlock()
	if e := tx.Epoch(7); e.Mark != 30 || len(e.Ahead) != 0 || !e.Seen.Equal(t0) {
		t.Fatalf("third instance: %+v; want mark 30, no gap", e)
	}
	if m, _ := third.Mark(ctx, "gw-other", 7); m != 0 {
		t.Fatalf("another gateway shares the key: mark %d", m)
	}
}

// TestKVContention: goroutines of two Stores record one seq each of one
// gateway, redoing their decision after each ErrConflict as the service
// does: every seq is recorded once, none lost.
func TestKVContention(t *testing.T) {
	c := natstest.Start(t, natstest.Options{Nodes: 3})
	ctx := context.Background()
	stores := []Store{openKV(t, c, "contention"), openKV(t, c, "contention")}
	const workers, perWorker = 6, 15
	var mu sync.Mutex
	recorded := map[uint64]int{} // seq -> commits that newly recorded it
	conflicts := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := stores[w%2]
			for i := 0; i < perWorker; i++ {
				seq := uint64(w*perWorker + i + 1)
				for {
					tx, err := s.Lock(ctx, "gw1")
					if err != nil {
						t.Error(err)
						return
					}
					fresh := !tx.Epoch(1).Written(seq)
					tx.Add(1, seq, seq, 0, time.Now())
					err = tx.Commit(ctx)
					tx.Unlock()
					if errors.Is(err, ErrConflict) {
						mu.Lock()
						conflicts++
						mu.Unlock()
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					if fresh {
						mu.Lock()
						recorded[seq]++
						mu.Unlock()
					}
					break
				}
			}
		}(w)
	}
	wg.Wait()
	const total = workers * perWorker
	for seq := uint64(1); seq <= total; seq++ {
		if recorded[seq] != 1 {
			t.Errorf("seq %d newly recorded %d times", seq, recorded[seq])
		}
	}
	if m, err := stores[0].Mark(ctx, "gw1", 1); err != nil || m != total {
		t.Fatalf("mark %d, %v; want %d", m, err, total)
	}
	t.Logf("%d commits, %d conflicts redone", total, conflicts)
}

var validKey = regexp.MustCompile(`^[-/_=a-zA-Z0-9]+$`)

func TestKey(t *testing.T) {
	tests := map[string]string{"gw-1": "gw-1", "site.a": "site=2Ea", "a_b": "a_b", "a=b": "a=3Db", ".x.": "=2Ex=2E", "é": "=C3=A9"}
	seen := map[string]string{}
	for gw, want := range tests {
		k := Key(gw)
		if k != want || !validKey.MatchString(k) {
			t.Errorf("Key(%q) = %q, want %q", gw, k, want)
		}
		if other, dup := seen[k]; dup {
			t.Errorf("Key(%q) = Key(%q)", gw, other)
		}
		seen[k] = gw
	}
}

func TestKVConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  KVConfig
		want string
	}{
		{"no urls", KVConfig{}, "nats.urls: required"},
		{"bad bucket", KVConfig{URLs: []string{"nats://a:4222"}, Bucket: "a.b"}, `nats.bucket: "a.b" (expected letters`},
		{"replicas", KVConfig{URLs: []string{"nats://a:4222"}, Replicas: 7}, "nats.replicas: 7 (expected 1 to 5"},
		{"two ways", KVConfig{URLs: []string{"nats://a:4222"}, User: "u", Password: "p", Token: "t"}, "not several"},
		{"password without user", KVConfig{URLs: []string{"nats://a:4222"}, Password: "p"}, "nats.user: required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v; want %q", err, tc.want)
			}
		})
	}
	ok := KVConfig{URLs: []string{"nats://a:4222"}}
	if err := ok.Validate(); err != nil || ok.Bucket != DefaultBucket || ok.Replicas != 3 || ok.Timeout != 5*time.Second {
		t.Fatalf("defaults: %v %+v", err, ok)
	}
}

// BenchmarkKVCommit is Lock+Add+Commit of one gateway's state on the
// three-node cluster (three replicas): what one ingest instance's
// pipeline pays per batch for the shared state.
func BenchmarkKVCommit(b *testing.B) {
	c := natstest.Start(b, natstest.Options{Nodes: 3})
	s := openKV(b, c, "bench")
	ctx := context.Background()
	var n uint64
	var mu sync.Mutex
	// As many goroutines as ingest's default pipeline workers (8) on
	// this machine's 2 cores: a commit waits on the network, not the CPU.
	par := max(1, 8/runtime.GOMAXPROCS(0))
	b.SetParallelism(par)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		n++
		gw := fmt.Sprint("gw", n)
		mu.Unlock()
		var seq uint64
		for pb.Next() {
			seq++
			tx, err := s.Lock(ctx, gw)
			if err != nil {
				b.Error(err)
				return
			}
			tx.Add(1, seq, seq, 0, time.Now())
			if err := tx.Commit(ctx); err != nil {
				b.Error(err)
			}
			tx.Unlock()
		}
	})
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "ops/s")
	b.Logf("bench dedup_kv_commit replicas=3 nodes=3 goroutines=%d: %.0f ops/s", par*runtime.GOMAXPROCS(0), rate)
}

// TestKVLostAnswer: a commit whose write was applied but whose answer was
// lost (a node failing over) is retried by the caller; the retry finds its
// own value stored, read from the stream's leader, and succeeds rather
// than report a conflict (which would make the batch a replay and skip
// its twin update).
func TestKVLostAnswer(t *testing.T) {
	c := natstest.Start(t, natstest.Options{Nodes: 3})
	ctx := context.Background()
	s := openKV(t, c, "lost-answer")
	for _, existing := range []bool{false, true} {
		if existing {
			commitRange(t, s, "gw1", 1, 10)
		}
		tx := lockKV(t, s, "gw1")
		if existing {
			tx.Add(1, 11, 20, 0, t0)
		} else {
			tx.Add(1, 1, 20, 0, t0)
		}
		kt := tx.(*kvTx)
		value := kt.state.appendTo(nil)
		// The write lands, its answer does not reach the Tx.
		var rev uint64
		var err error
		if kt.rev == 0 {
			rev, err = bucketOf(t, s).Create(ctx, kt.key, value)
		} else {
			rev, err = bucketOf(t, s).Update(ctx, kt.key, value, kt.rev)
		}
		if err != nil {
			t.Fatal(err)
		}
		if e, err := s.leaderEntry(ctx, kt.key); err != nil || e.Revision != rev || !bytes.Equal(e.Value, value) {
			t.Fatalf("leaderEntry = %d, %v; want revision %d and the value written", e.Revision, err, rev)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("existing key %v: retried commit of a write that landed: %v; want success", existing, err)
		}
		tx.Unlock()
		if m, _ := s.Mark(ctx, "gw1", 1); m != 20 {
			t.Fatalf("mark %d, want 20", m)
		}
		// A different value at a later revision is a conflict.
		tx = lockKV(t, s, "gw1")
		tx.Add(1, 21, 30, 0, t0)
		commitRange(t, openKV(t, c, "lost-answer"), "gw1", 31, 40)
		if err := tx.Commit(ctx); !errors.Is(err, ErrConflict) {
			t.Fatalf("commit over another value: %v; want ErrConflict", err)
		}
		tx.Unlock()
		if err := bucketOf(t, s).Purge(ctx, Key("gw1")); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKVLostAnswerThenOverwritten: a commit's write lands, and neither
// its answer nor its read-back comes (a failover: TestKVLeaderKilled in
// ingest/service lost a batch's twin update this way); other instances
// commit over it before the caller retries. A retry whose read-back
// fails is an error, not a conflict. The next retry succeeds, on one
// node and on three (a stream with replicas), while fewer than
// keptCommits commits came over it, and a further commit on the same Tx,
// whose state lacks theirs, conflicts. After keptCommits the retry is a
// conflict, as with no list.
func TestKVLostAnswerThenOverwritten(t *testing.T) {
	for _, tc := range []struct{ nodes, over int }{{1, 1}, {3, 1}, {1, keptCommits - 1}, {1, keptCommits}} {
		t.Run(fmt.Sprintf("%d nodes, %d commits over it", tc.nodes, tc.over), func(t *testing.T) {
			c := natstest.Start(t, natstest.Options{Nodes: tc.nodes})
			ctx := context.Background()
			a, b := openKVReplicas(t, c, "overwritten", tc.nodes), openKVReplicas(t, c, "overwritten", tc.nodes)
			commitRange(t, a, "gw1", 1, 10)

			tx := lockKV(t, a, "gw1")
			defer tx.Unlock()
			tx.Add(1, 11, 20, 0, t0)
			// lose makes the next write's read-back fail (its context
			// ends after the write), and its answer lost if it was applied.
			swap := a.swap
			var readBackLost context.CancelFunc
			a.swap = func(ctx context.Context, key string, value []byte, h nats.Header, rev uint64) (uint64, error) {
				n, err := swap(ctx, key, value, h, rev)
				if readBackLost == nil {
					return n, err
				}
				readBackLost()
				readBackLost = nil
				if err == nil {
					return 0, context.DeadlineExceeded
				}
				return n, err
			}
			lose := func() context.Context {
				c, cancel := context.WithCancel(ctx)
				readBackLost = cancel
				return c
			}
			if err := tx.Commit(lose()); err == nil || errors.Is(err, ErrConflict) {
				t.Fatalf("commit whose answer and read-back were lost: %v; want an error, not a conflict", err)
			}
			for k := range uint64(tc.over) {
				commitRange(t, b, "gw1", 21+10*k, 30+10*k)
			}
			if err := tx.Commit(lose()); err == nil || errors.Is(err, ErrConflict) {
				t.Fatalf("retry whose read-back failed: %v; want an error, not a conflict", err)
			}
			err := tx.Commit(ctx)
			if tc.over == keptCommits {
				if !errors.Is(err, ErrConflict) {
					t.Fatalf("retry after %d commits over it: %v; want ErrConflict (the list is full)", tc.over, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("retry after %d commits over it: %v; want success", tc.over, err)
			}
			if m, err := b.Mark(ctx, "gw1", 1); err != nil || m != 20+10*uint64(tc.over) {
				t.Fatalf("mark %d, %v; want %d (every commit kept)", m, err, 20+10*tc.over)
			}
			tx.Add(1, 1000, 1010, 0, t0)
			if err := tx.Commit(ctx); !errors.Is(err, ErrConflict) {
				t.Fatalf("further commit on a Tx without the others' commits: %v; want ErrConflict", err)
			}
		})
	}
}
