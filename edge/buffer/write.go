package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// writer is the loop goroutine's handle on the segment being written. Only
// the loop goroutine touches it.
type writer struct {
	f           File
	seg         *segment // the segment f writes
	isNew       bool     // seg is not yet published
	off         int64    // logical size: bytes written plus len(buf)
	nextSeq     uint64   // sequence number of the next frame
	dirDirty    bool     // a file was created since the last directory sync
	unsynced    bool     // f was written since its last fsync
	readFailing bool     // the maintenance pass last failed to read
	buf         []byte
	rolled      []segUpdate // segments closed or created since the last publish
	stale       []string    // files of a failed attempt, removed before a retry
	retryAt     time.Time   // when a degraded buffer last tried the disk
}

// segUpdate is a segment closed by a roll, published with the next sync.
type segUpdate struct {
	seg   *segment
	size  int64
	isNew bool
}

func (b *Buffer) segPath(first uint64) string { return filepath.Join(b.dir, segName(first)) }

// flush hands the queue to the writer and writes it; with sync it also
// fsyncs and resolves the group of appends it covers. In degraded mode it
// only tries the disk every RetryInterval (or when final).
func (b *Buffer) flush(sync, final bool) {
	b.mu.Lock()
	var g *group
	if sync {
		g = b.group
		b.group = newGroup()
	}
	if b.degraded && (!sync || (!final && time.Since(b.w.retryAt) < b.cfg.RetryInterval)) {
		if g != nil {
			g.resolveLocked(fmt.Errorf("buffer %s: disk failing: %w", b.dir, ErrNotDurable))
		}
		b.mu.Unlock()
		return
	}
	retry := b.degraded
	take := b.queue
	b.queue = nil
	b.inflight = append(b.inflight, take...)
	b.flyRecs += b.queueRecs
	b.queueRecs, b.queueSize = 0, 0
	roll := b.forceRoll
	b.forceRoll = false
	b.mu.Unlock()

	if retry {
		b.w.retryAt = time.Now()
	}
	err := b.write(take, roll)
	if err == nil && sync {
		err = b.syncFiles()
	}
	if err != nil {
		b.fail(err, g)
		return
	}
	if sync {
		b.mu.Lock()
		b.publishLocked()
		g.resolveLocked(nil)
		b.mu.Unlock()
	}
}

// write encodes batches into the active segment, rolling to a new one at
// SegmentBytes or at a gap in sequence numbers.
func (b *Buffer) write(batches []*batch, roll bool) error {
	w := &b.w
	if err := b.removeStale(); err != nil {
		return err
	}
	if roll && w.f != nil {
		if err := b.closeActive(); err != nil {
			return err
		}
	}
	limit := b.cfg.SegmentBytes
	for _, bt := range batches {
		for i := range bt.len() {
			rec := bt.rec(i)
			seq := bt.first + uint64(i)
			if w.f == nil || seq != w.nextSeq ||
				(w.nextSeq > w.seg.first && w.off+int64(frameLen(len(rec))) > limit) {
				if err := b.roll(seq, bt.ms); err != nil {
					return err
				}
			}
			// Written out before a frame would take it past readChunk,
			// w.buf stays within it: it is live heap for as long as the
			// buffer is open, and doubling past readChunk kept 660 kB at
			// 100k readings/s.
			if len(w.buf) > 0 && len(w.buf)+frameLen(len(rec)) > readChunk {
				if err := b.writeBuf(); err != nil {
					return err
				}
			}
			n := len(w.buf)
			w.buf = appendFrame(w.buf, w.seg.base, bt.ms, rec)
			w.off += int64(len(w.buf) - n)
			w.nextSeq++
		}
	}
	return b.writeBuf()
}

func (b *Buffer) writeBuf() error {
	w := &b.w
	if len(w.buf) == 0 || w.f == nil {
		return nil
	}
	_, err := w.f.Write(w.buf)
	w.buf = w.buf[:0]
	w.unsynced = true
	if err != nil {
		b.m.diskErrors.WithLabelValues("write").Inc()
		return fmt.Errorf("write segment %s: %w", segName(w.seg.first), err)
	}
	return nil
}

// closeActive syncs and closes the active segment; it is published with
// its final size at the next sync.
func (b *Buffer) closeActive() error {
	w := &b.w
	if err := b.writeBuf(); err != nil {
		return err
	}
	if err := b.fsync(w.f, "segment "+segName(w.seg.first)); err != nil {
		return err
	}
	err := w.f.Close()
	w.rolled = append(w.rolled, segUpdate{seg: w.seg, size: w.off, isNew: w.isNew})
	w.f, w.seg, w.isNew = nil, nil, false
	if err != nil {
		return fmt.Errorf("close segment: %w", err)
	}
	return nil
}

// roll closes the active segment and starts one whose first record is seq.
func (b *Buffer) roll(seq uint64, ms int64) error {
	w := &b.w
	if w.f != nil {
		if err := b.closeActive(); err != nil {
			return err
		}
	}
	name := b.segPath(seq)
	f, err := b.fsys.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		b.m.diskErrors.WithLabelValues("create").Inc()
		return fmt.Errorf("create segment %s: %w", name, err)
	}
	w.f = f
	w.seg = &segment{first: seq, base: ms}
	w.isNew = true
	w.dirDirty = true
	w.buf = append(w.buf, segHeader{epoch: b.epoch, first: seq, base: ms}.encode()...)
	w.off = headerSize
	w.nextSeq = seq
	return nil
}

// syncFiles makes everything written durable: the active segment and, if
// a segment was created, the directory. An idle buffer costs no fsync.
func (b *Buffer) syncFiles() error {
	w := &b.w
	if err := b.writeBuf(); err != nil {
		return err
	}
	if w.f != nil && w.unsynced {
		if err := b.fsync(w.f, "segment "+segName(w.seg.first)); err != nil {
			return err
		}
	}
	if w.dirDirty {
		if err := syncDir(b.fsys, b.dir); err != nil {
			b.m.diskErrors.WithLabelValues("fsync").Inc()
			return fmt.Errorf("sync directory %s: %w", b.dir, err)
		}
		w.dirDirty = false
	}
	return nil
}

func (b *Buffer) fsync(f File, what string) error {
	start := time.Now()
	err := f.Sync()
	b.w.unsynced = false
	b.m.fsync.Observe(time.Since(start).Seconds())
	if err != nil {
		b.m.diskErrors.WithLabelValues("fsync").Inc()
		return fmt.Errorf("sync %s: %w", what, err)
	}
	return nil
}

// publishLocked makes what the last sync covered visible to readers.
func (b *Buffer) publishLocked() {
	w := &b.w
	for _, u := range w.rolled {
		u.seg.size = u.size
		if u.isNew {
			b.addSegLocked(u.seg)
		}
	}
	w.rolled = w.rolled[:0]
	if w.f != nil {
		w.seg.size = w.off
		if w.isNew {
			b.addSegLocked(w.seg)
			w.isNew = false
		}
		b.check = checkpoint{Segment: w.seg.first, Offset: w.off, Next: w.nextSeq}
	}
	if w.nextSeq > b.durable {
		b.durable = w.nextSeq
		close(b.changed)
		b.changed = make(chan struct{})
		b.metaDirty = true
	}
	b.inflight = nil
	b.flyRecs = 0
	b.countBadLocked()
	if b.degraded {
		b.degraded = false
		b.m.degraded.Set(0)
		b.cfg.Logger.Info("buffer disk works again; memory queue written back", "dir", b.dir, "durable_seq", b.durable-1)
	}
}

// addSegLocked publishes a new segment. A new file can have the name of
// the last published one only if that one holds no record (a retry after
// a failure, or a tail truncated to its header): it replaces it.
func (b *Buffer) addSegLocked(s *segment) {
	if n := len(b.segs); n > 0 && b.segs[n-1].first == s.first {
		b.segs[n-1] = s
		return
	}
	b.segs = append(b.segs, s)
}

// fail handles a write or sync error: the records not known durable go
// back to the memory queue, the files of this attempt are abandoned and the
// buffer is degraded until a retry succeeds. g, if not nil, is the group
// the failed sync was for.
func (b *Buffer) fail(cause error, g *group) {
	w := &b.w
	for _, u := range w.rolled {
		if u.isNew {
			w.stale = append(w.stale, b.segPath(u.seg.first))
		}
	}
	w.rolled = w.rolled[:0]
	if w.f != nil {
		if w.isNew {
			w.stale = append(w.stale, b.segPath(w.seg.first))
		} else {
			// Best effort: cut what this attempt added. Readers never
			// look past the published size anyway.
			_ = w.f.Truncate(w.seg.size)
		}
		_ = w.f.Close()
	}
	w.f, w.seg, w.isNew, w.dirDirty = nil, nil, false, true
	w.buf = w.buf[:0]
	_ = b.removeStale()

	b.mu.Lock()
	if !b.degraded {
		b.degraded = true
		b.m.degraded.Set(1)
		b.cfg.Logger.Error("buffer disk failed; holding records in memory", "dir", b.dir, "err", cause,
			"memory_records", b.cfg.MemoryRecords, "retry_interval", b.cfg.RetryInterval)
	}
	b.queue = append(b.inflight, b.queue...)
	b.inflight = nil
	b.queueRecs += b.flyRecs
	b.flyRecs = 0
	b.queueSize = 0
	for _, bt := range b.queue {
		b.queueSize += bt.size
	}
	dropped := b.trimMemoryLocked()
	if g != nil {
		g.resolveLocked(fmt.Errorf("buffer %s: %w: %w", b.dir, ErrNotDurable, cause))
	}
	b.mu.Unlock()
	if dropped > 0 {
		b.m.dropped.WithLabelValues(reasonMemoryFull).Add(float64(dropped))
	}
}

// removeStale deletes the files of a failed attempt so that they cannot be
// taken for segments on the next start.
func (b *Buffer) removeStale() error {
	w := &b.w
	for len(w.stale) > 0 {
		if err := b.fsys.Remove(w.stale[0]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.m.diskErrors.WithLabelValues("remove").Inc()
			return fmt.Errorf("remove abandoned segment %s: %w", w.stale[0], err)
		}
		w.stale = w.stale[1:]
		w.dirDirty = true
	}
	return nil
}
