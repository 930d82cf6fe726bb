package buffer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

// faultFS is the OS file system with a switch that makes every write,
// sync, create and rename fail as a full disk would.
type faultFS struct {
	OSFS
	fail atomic.Bool
	// stall, while set, makes Sync wait for it: a disk that is slow but
	// works.
	stall atomic.Pointer[stall]
}

// stall holds syncs until release is closed, telling entered first.
type stall struct {
	entered chan struct{} // capacity 1
	release chan struct{}
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if f.fail.Load() && flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE) != 0 {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.ENOSPC}
	}
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

func (f *faultFS) Rename(oldname, newname string) error {
	if f.fail.Load() {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.ENOSPC}
	}
	return f.OSFS.Rename(oldname, newname)
}

type faultFile struct {
	File
	fs *faultFS
}

func (f *faultFile) Write(p []byte) (int, error) {
	if f.fs.fail.Load() {
		// A full disk takes part of a write.
		n, _ := f.File.Write(p[:len(p)/2])
		return n, syscall.ENOSPC
	}
	return f.File.Write(p)
}

func (f *faultFile) Sync() error {
	if st := f.fs.stall.Load(); st != nil {
		select {
		case st.entered <- struct{}{}:
		default:
		}
		<-st.release
	}
	if f.fs.fail.Load() {
		return syscall.EIO
	}
	return f.File.Sync()
}

func TestDegradedMode(t *testing.T) {
	dir := t.TempDir()
	fsys := &faultFS{}
	cfg := Config{Dir: dir, FS: fsys, SegmentBytes: minSegmentBytes, MemoryRecords: 500,
		RetryInterval: 5 * time.Millisecond, Now: fixedNow}
	b := openT(t, cfg)
	appendN(t, b, 0, 100)

	fsys.fail.Store(true)
	var commits []Commit
	for i := 100; i < 1200; i += 100 {
		recs := make([][]byte, 100)
		for j := range recs {
			recs[j] = rec(i + j)
		}
		c, err := b.Append(recs)
		if err != nil {
			t.Fatalf("append while the disk fails: %v", err)
		}
		commits = append(commits, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range commits {
		if err := c.Wait(ctx); !errors.Is(err, ErrNotDurable) {
			t.Fatalf("records %d..%d: %v, want ErrNotDurable", c.First, c.Last, err)
		}
	}
	if s := b.Stats(); !s.Degraded || s.MemoryRecords != 500 {
		t.Fatalf("stats while failing: %+v", s)
	}
	if value(b.m.degraded) != 1 {
		t.Errorf("degraded gauge %v, want 1", value(b.m.degraded))
	}
	// Only durable records are readable.
	if got := readAll(t, b, 0); len(got) != 100 {
		t.Errorf("read %d records while degraded, want the 100 durable", len(got))
	}
	if got := dropped(b, reasonMemoryFull); got != 600 {
		t.Errorf("dropped{memory_full} = %v, want 600", got)
	}

	fsys.fail.Store(false)
	testenv.Eventually(t, 10*time.Second, "disk recovery", func() bool { return !b.Stats().Degraded })
	if value(b.m.degraded) != 0 {
		t.Errorf("degraded gauge %v after recovery, want 0", value(b.m.degraded))
	}
	c := appendN(t, b, 1200, 10)
	if c.First != 1201 {
		t.Fatalf("seq after recovery %d, want 1201", c.First)
	}
	check := func(b *Buffer) {
		t.Helper()
		got := readAll(t, b, 0)
		// 1..100 durable before, 701..1200 kept in memory (the oldest 600
		// of the failing period dropped), 1201..1210 after.
		var want []uint64
		for s := uint64(1); s <= 1210; s++ {
			if s <= 100 || s > 700 {
				want = append(want, s)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("read %d records, want %d", len(got), len(want))
		}
		for i, r := range got {
			if r.Seq != want[i] || !bytes.Equal(r.Data, rec(int(r.Seq-1))) {
				t.Fatalf("record %d: seq %d %q, want seq %d", i, r.Seq, r.Data, want[i])
			}
		}
	}
	check(b)
	closeT(t, b)
	b = openT(t, cfg)
	defer closeT(t, b)
	check(b)
}

func TestCloseWhileDegraded(t *testing.T) {
	fsys := &faultFS{}
	b := openT(t, Config{Dir: t.TempDir(), FS: fsys, RetryInterval: time.Hour})
	appendN(t, b, 0, 10)
	fsys.fail.Store(true)
	c, err := b.Append([][]byte{rec(10), rec(11)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(context.Background()); !errors.Is(err, ErrNotDurable) {
		t.Fatalf("wait: %v", err)
	}
	if err := b.Close(context.Background()); !errors.Is(err, ErrNotDurable) {
		t.Fatalf("close with records in memory: %v, want ErrNotDurable", err)
	}
	if got := dropped(b, reasonShutdown); got != 2 {
		t.Errorf("dropped{shutdown} = %v, want 2", got)
	}
}

// A disk that is slow but works: the memory bound drops the oldest queued
// records, and exactly the appends that lost records hear about it.
func TestSlowDiskDropsOldest(t *testing.T) {
	fsys := &faultFS{}
	b := openT(t, Config{Dir: t.TempDir(), FS: fsys, MemoryRecords: 300, Now: fixedNow})
	defer closeT(t, b)
	appendN(t, b, 0, 10)

	st := &stall{entered: make(chan struct{}, 1), release: make(chan struct{})}
	fsys.stall.Store(st)
	if _, err := b.Append([][]byte{rec(10)}); err != nil {
		t.Fatal(err)
	}
	<-st.entered // the writer is stuck syncing; what follows queues up
	var commits []Commit
	for i := 11; i < 511; i += 100 {
		recs := make([][]byte, 100)
		for j := range recs {
			recs[j] = rec(i + j)
		}
		c, err := b.Append(recs)
		if err != nil {
			t.Fatal(err)
		}
		commits = append(commits, c)
	}
	fsys.stall.Store(nil)
	close(st.release)
	ctx := context.Background()
	for i, c := range commits {
		err := c.Wait(ctx)
		if dropped := i < 2; dropped != errors.Is(err, ErrDropped) {
			t.Errorf("append %d (%d..%d): err %v", i, c.First, c.Last, err)
		}
	}
	if got := dropped(b, reasonMemoryFull); got != 200 {
		t.Errorf("dropped{memory_full} = %v, want 200", got)
	}
	got := readAll(t, b, 0)
	if len(got) != 311 || got[11].Seq != 212 || !bytes.Equal(got[11].Data, rec(211)) {
		t.Fatalf("read %d records, [11] = %d", len(got), got[11].Seq)
	}
}

// A failure while the last segment holds no record: the retry creates a
// file of the same name, which must not be listed twice (freeing one would
// delete the other).
func TestRetryOverEmptySegment(t *testing.T) {
	dir := t.TempDir()
	fsys := &faultFS{}
	cfg := Config{Dir: dir, FS: fsys, RetryInterval: time.Millisecond, Now: fixedNow}
	b := openT(t, cfg)
	appendN(t, b, 0, 5)
	closeT(t, b)
	// Tear every record: the last segment is recovered to its header.
	segs := segFiles(t, dir)
	truncate(t, segs[0], headerSize+3)
	if err := os.Remove(filepath.Join(dir, metaName)); err != nil {
		t.Fatal(err)
	}
	b = openT(t, cfg)
	defer closeT(t, b)
	fsys.fail.Store(true)
	c, err := b.Append([][]byte{rec(0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(t.Context()); !errors.Is(err, ErrNotDurable) {
		t.Fatalf("wait: %v", err)
	}
	fsys.fail.Store(false)
	testenv.Eventually(t, 10*time.Second, "disk recovery", func() bool { return !b.Stats().Degraded })
	appendN(t, b, 1, 5)
	if err := b.Ack(3); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "ack applied", func() bool { return b.Stats().FirstSeq == 4 })
	if got := readAll(t, b, 0); len(got) != 3 || got[0].Seq != 4 || !bytes.Equal(got[2].Data, rec(5)) {
		t.Fatalf("read %d records", len(got))
	}
	b.mu.Lock()
	n := len(b.segs)
	b.mu.Unlock()
	if n != 1 {
		t.Errorf("%d segments listed, want 1", n)
	}
}
