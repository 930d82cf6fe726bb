package buffer

import (
	"errors"
	"io/fs"
	"time"
)

// run is the buffer's one goroutine: group commit on every SyncInterval
// tick (earlier writes when the queue grows), then the caps, freeing and
// checkpoints.
func (b *Buffer) run() {
	defer close(b.done)
	t := time.NewTicker(b.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			b.shutdown()
			return
		case <-t.C:
			b.flush(true, false)
			b.maintain(false)
		case <-b.kick:
			b.flush(false, false)
		}
	}
}

// shutdown is the last flush, checkpoint and release.
func (b *Buffer) shutdown() {
	b.flush(true, true)
	b.maintain(true)
	if b.w.f != nil {
		if err := b.w.f.Close(); err != nil {
			b.closeErr = err
		}
		b.w.f = nil
	}
	b.mu.Lock()
	lost := b.queueRecs + b.flyRecs
	b.queue, b.inflight = nil, nil
	b.queueRecs, b.flyRecs = 0, 0
	b.group.resolveLocked(ErrClosed)
	b.mu.Unlock()
	if lost > 0 {
		b.m.dropped.WithLabelValues(reasonShutdown).Add(float64(lost))
		b.cfg.Logger.Error("buffer closed with records held in memory; they are lost", "dir", b.dir, "records", lost)
		b.closeErr = errors.Join(b.closeErr, ErrNotDurable)
	}
}

// maintain applies acknowledgements and the caps, deletes freed segments,
// updates the gauges and writes the metadata when due (always if force).
func (b *Buffer) maintain(force bool) {
	now := b.cfg.Now()
	b.mu.Lock()
	head, durable := b.head, b.durable
	target := min(max(b.acked+1, b.capHead), durable)
	snap := b.snapLocked(head.seq)
	// Usually the forwarder acknowledges what it just read: start there
	// rather than re-reading the acknowledged records.
	start := bestHint(target, head, b.readHint)
	if start.seq < head.seq {
		start = head
	}
	b.mu.Unlock()

	// Acknowledgements: move the head to the first unacknowledged record,
	// reading its time for the age cap and the oldest-age gauge.
	if head.seq < target || (head.seq < durable && !head.timed) {
		p, dmg, err := b.walk(snap, start.seq, start, func(seq uint64, _ int64, _ []byte) bool { return seq < target })
		b.markDamage(dmg)
		b.readFailed(err)
		if err == nil {
			head = p
		}
	}
	var agedOut uint64
	if b.cfg.MaxAge > 0 && head.timed && head.seq < durable {
		cutoff := now.Add(-b.cfg.MaxAge).UnixMilli()
		if head.ms < cutoff {
			p, dmg, err := b.walk(snap, head.seq, head, func(_ uint64, ms int64, _ []byte) bool { return ms < cutoff })
			b.markDamage(dmg)
			b.readFailed(err)
			if err == nil {
				agedOut = p.seq - head.seq
				head = p
			}
		}
	}

	b.mu.Lock()
	if head.seq > b.head.seq || (head.seq == b.head.seq && head.timed && !b.head.timed) {
		b.head = head
		b.metaDirty = true
	}
	if agedOut > 0 {
		b.capHead = max(b.capHead, head.seq)
		b.m.dropped.WithLabelValues(reasonCapAge).Add(float64(agedOut))
	}
	remove := b.capBytesLocked()
	for len(b.segs) > 1 && b.segs[1].first <= b.head.seq {
		remove = append(remove, b.segs[0].first)
		b.segs = b.segs[1:]
	}
	b.gaugesLocked(now)
	var m meta
	writeDue := (force || b.metaDirty && time.Since(b.metaAt) >= b.cfg.CheckpointInterval) && !b.degraded
	if writeDue {
		m = b.metaLocked()
		b.metaDirty = false
		b.metaAt = time.Now()
	}
	b.mu.Unlock()

	// The metadata goes first: a head pointing into a deleted segment is
	// handled on start-up, but it is cheaper not to need that.
	if writeDue {
		if err := writeMeta(b.fsys, b.dir, m); err != nil {
			b.m.diskErrors.WithLabelValues("meta").Inc()
			b.mu.Lock()
			b.metaDirty = true
			b.mu.Unlock()
			b.cfg.Logger.Warn("buffer metadata not written; acknowledged records may be replayed after a restart", "dir", b.dir, "err", err)
		}
	}
	for _, first := range remove {
		if err := b.fsys.Remove(b.segPath(first)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.m.diskErrors.WithLabelValues("remove").Inc()
			b.cfg.Logger.Warn("buffer segment not deleted", "dir", b.dir, "segment", segName(first), "err", err)
		}
	}
	if len(remove) > 0 {
		b.w.dirDirty = true
	}
}

// capBytesLocked unlinks whole oldest segments while the files exceed
// MaxBytes, counting their unacknowledged records, and returns the ones to
// delete. The active segment is never dropped.
func (b *Buffer) capBytesLocked() []uint64 {
	if b.cfg.MaxBytes <= 0 {
		return nil
	}
	var total int64
	for _, s := range b.segs {
		total += s.size
	}
	var remove []uint64
	for total > b.cfg.MaxBytes && len(b.segs) > 1 {
		s, end := b.segs[0], b.segs[1].first
		if live := b.liveFromLocked(0); live < end {
			lost := end - max(live, s.first)
			b.m.dropped.WithLabelValues(reasonCapBytes).Add(float64(lost))
			b.cfg.Logger.Warn("buffer byte cap reached; oldest unacknowledged records dropped",
				"dir", b.dir, "segment", segName(s.first), "records", lost, "max_bytes", b.cfg.MaxBytes)
			b.head = pos{seq: end, seg: end, off: headerSize}
			b.capHead = max(b.capHead, end)
			b.metaDirty = true
		}
		total -= s.size
		remove = append(remove, s.first)
		b.segs = b.segs[1:]
	}
	return remove
}

// metaLocked is the metadata to persist now.
func (b *Buffer) metaLocked() meta {
	return meta{
		Epoch:       b.epoch,
		Acked:       b.acked,
		HeadSeq:     b.head.seq,
		HeadSegment: b.head.seg,
		HeadOffset:  b.head.off,
		Check:       b.check,
	}
}

func (b *Buffer) gaugesLocked(now time.Time) {
	s := b.statsLocked(now)
	b.m.bytes.Set(float64(s.Bytes))
	b.m.records.Set(float64(s.Records))
	b.m.memory.Set(float64(s.MemoryRecords))
	b.m.oldestAge.Set(s.OldestAge.Seconds())
	b.m.durableSeq.Set(float64(s.DurableSeq))
}

// readFailed logs a failing read of the maintenance pass once per change
// of state; the pass is retried on the next tick.
func (b *Buffer) readFailed(err error) {
	switch {
	case err != nil && !b.w.readFailing:
		b.m.diskErrors.WithLabelValues("read").Inc()
		b.cfg.Logger.Warn("buffer segments not readable; acknowledged records are not freed", "dir", b.dir, "err", err)
	case err == nil && b.w.readFailing:
		b.cfg.Logger.Info("buffer segments readable again", "dir", b.dir)
	}
	b.w.readFailing = err != nil
}
