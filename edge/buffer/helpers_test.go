package buffer

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// openT opens a buffer in dir with a fast sync and fails the test on error.
func openT(t testing.TB, cfg Config) *Buffer {
	t.Helper()
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = 2 * time.Millisecond
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	b, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return b
}

func closeT(t testing.TB, b *Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// rec is the test payload of record i: distinct, checkable, ~40 bytes.
func rec(i int) []byte { return fmt.Appendf(nil, "reading-%08d-payload-xxxxxxxxxxxxxxxx", i) }

// appendN appends records from..from+n-1 (by rec) and waits until durable.
func appendN(t testing.TB, b *Buffer, from, n int) Commit {
	t.Helper()
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = rec(from + i)
	}
	c, err := b.Append(recs)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Wait(ctx); err != nil {
		t.Fatalf("wait durable %d..%d: %v", c.First, c.Last, err)
	}
	return c
}

// readAll reads every live record from seq `from`.
func readAll(t testing.TB, b *Buffer, from uint64) []Record {
	t.Helper()
	var out []Record
	for {
		rs, err := b.Read(from, 1000, 0)
		if err != nil {
			t.Fatalf("read from %d: %v", from, err)
		}
		if len(rs) == 0 {
			return out
		}
		out = append(out, rs...)
		from = rs[len(rs)-1].Seq + 1
	}
}

func dropped(b *Buffer, reason string) float64 {
	return value(b.m.dropped.WithLabelValues(reason))
}

func droppedBytes(b *Buffer, reason string) float64 {
	return value(b.m.droppedBytes.WithLabelValues(reason))
}

// value reads a counter or gauge.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// noSyncFS skips fsync, for tests and fuzzing that do not test durability.
type noSyncFS struct{ OSFS }

func (n noSyncFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := n.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noSyncFile{f}, nil
}

type noSyncFile struct{ File }

func (noSyncFile) Sync() error { return nil }
