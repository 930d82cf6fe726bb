package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"time"
)

// Record is one record read back.
type Record struct {
	// Seq is the record's sequence number within the buffer's epoch.
	Seq uint64
	// Time is when it was appended (millisecond precision).
	Time time.Time
	// Data is the record as appended; it belongs to the caller.
	Data []byte
}

// segSnap is a copy of a published segment taken under the lock, so files
// can be read without it.
type segSnap struct {
	first, end uint64 // records first..end-1 (fewer if the writer skipped a gap)
	base, size int64
	badAt      uint64
}

// damage is durable data that failed to verify when read.
type damage struct {
	seg, seq uint64
	reason   string
}

// Read returns up to maxRecs records (and about maxBytes of data, at least one
// record; 0: no byte limit) with sequence numbers from `from` on, in order,
// among those that are durable and not yet acknowledged or dropped. A
// `from` below the oldest live record reads from that record, so replay
// after an outage is Read(0, ...) or Read(lastAcked+1, ...). An empty
// result means nothing durable is newer; Changed signals when there is.
//
// Records held in memory only (degraded mode) are not returned: a sequence
// number that ingest has seen must survive a crash, or it could be given
// to another record. Sequence numbers may skip where records were dropped.
func (b *Buffer) Read(from uint64, maxRecs, maxBytes int) ([]Record, error) {
	out, _, err := b.ReadInto(from, maxRecs, maxBytes, nil, nil)
	return out, err
}

// ReadInto is Read into memory the caller hands back on every call: the
// records are appended to recs[:0] and their data to arena[:0], and both
// are returned for the next call. The records' Data is then valid only
// until the caller passes that arena again. The uplink reads a batch
// every few milliseconds at 100k readings/s and decodes it at once; a
// fresh arena for each read was the agent's largest allocation.
func (b *Buffer) ReadInto(from uint64, maxRecs, maxBytes int, recs []Record, arena []byte) ([]Record, []byte, error) {
	if maxRecs <= 0 {
		return recs[:0], arena, nil
	}
	for attempt := 0; ; attempt++ {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return recs[:0], arena, ErrClosed
		}
		start := b.liveFromLocked(from)
		if start >= b.durable {
			b.mu.Unlock()
			return recs[:0], arena, nil
		}
		snap := b.snapLocked(start)
		hint := bestHint(start, b.head, b.readHint)
		b.mu.Unlock()

		out, arena := recs[:0], arena[:0]
		bytes := 0
		p, dmg, err := b.walk(snap, start, hint, func(seq uint64, ms int64, data []byte) bool {
			if len(out) == maxRecs || (maxBytes > 0 && len(out) > 0 && bytes+len(data) > maxBytes) {
				return false
			}
			if len(arena)+len(data) > cap(arena) {
				// The records so far keep the old arena; the caller gets
				// this one back, large enough for a whole read next time.
				arena = make([]byte, 0, min(4<<20, max(64<<10, len(data), bytes+(maxRecs-len(out))*(len(data)+8))))
			}
			n := len(arena)
			arena = append(arena, data...)
			out = append(out, Record{Seq: seq, Time: time.UnixMilli(ms), Data: arena[n:len(arena):len(arena)]})
			bytes += len(data)
			return true
		})
		b.markDamage(dmg)
		if errors.Is(err, fs.ErrNotExist) && attempt < 3 {
			recs = out
			continue // a segment was freed meanwhile: look again
		}
		if err != nil {
			return out, arena, fmt.Errorf("read buffer %s from %d: %w", b.dir, start, err)
		}
		b.mu.Lock()
		b.readHint = p
		b.mu.Unlock()
		return out, arena, nil
	}
}

// liveFromLocked returns the first sequence number at or after from that
// is neither acknowledged nor dropped.
func (b *Buffer) liveFromLocked(from uint64) uint64 {
	return max(from, b.head.seq, b.acked+1, b.capHead)
}

// snapLocked copies the published segments from the one holding seq on.
func (b *Buffer) snapLocked(seq uint64) []segSnap {
	i := max(sort.Search(len(b.segs), func(i int) bool { return b.segs[i].first > seq })-1, 0)
	out := make([]segSnap, 0, len(b.segs)-i)
	for j := i; j < len(b.segs); j++ {
		s := b.segs[j]
		end := b.durable
		if j+1 < len(b.segs) {
			end = b.segs[j+1].first
		}
		out = append(out, segSnap{first: s.first, end: end, base: s.base, size: s.size, badAt: s.badAt})
	}
	return out
}

// bestHint picks the known position closest before seq.
func bestHint(seq uint64, cands ...pos) pos {
	var best pos
	for _, c := range cands {
		if c.off >= headerSize && c.seq <= seq && c.seq >= best.seq {
			best = c
		}
	}
	return best
}

// walk visits the durable records with sequence numbers from `from` on, in
// order, calling visit for each until it returns false. It returns the
// position of the first record not consumed (timed when one was read), and
// the damage it met; damaged segments are skipped from the damage on.
func (b *Buffer) walk(snap []segSnap, from uint64, hint pos, visit func(seq uint64, ms int64, data []byte) bool) (pos, []damage, error) {
	var dmg []damage
	// The read buffer is reused from walk to walk: the uplink's reads and
	// the head's moves after each ack are a hundred walks a second at
	// 100k readings/s, and a fresh 256 kB each was most of the agent's
	// garbage.
	scanBuf := b.takeScanBuf()
	defer func() { b.putScanBuf(scanBuf) }()
	for _, s := range snap {
		end := s.end
		if s.badAt != 0 {
			end = min(end, s.badAt)
		}
		if end <= from || end <= s.first {
			continue
		}
		seq, off := s.first, int64(headerSize)
		if hint.seg == s.first && hint.seq >= s.first && hint.seq <= from && hint.off >= headerSize {
			seq, off = hint.seq, hint.off
		}
		f, err := b.fsys.OpenFile(b.segPath(s.first), os.O_RDONLY, 0)
		if err != nil {
			return pos{}, dmg, fmt.Errorf("open segment: %w", err)
		}
		sc := newScanner(f, s.base, off, s.size, scanBuf)
		scanBuf = sc.buffer()
		for seq < end {
			at := sc.off
			data, ms, st, err := sc.next()
			if err != nil {
				f.Close()
				return pos{}, dmg, fmt.Errorf("segment %s: %w", segName(s.first), err)
			}
			if st == scanEnd {
				break // fewer records than the span: the writer skipped a gap
			}
			if st != scanOK {
				reason := reasonCRC
				if st == scanTorn {
					reason = reasonTorn
				}
				dmg = append(dmg, damage{seg: s.first, seq: seq, reason: reason})
				break
			}
			if seq >= from && !visit(seq, ms, data) {
				f.Close()
				return pos{seq: seq, seg: s.first, off: at, ms: ms, timed: true}, dmg, nil
			}
			seq++
		}
		f.Close()
	}
	if len(snap) == 0 {
		return pos{seq: from}, dmg, nil
	}
	last := snap[len(snap)-1]
	return pos{seq: max(last.end, from), seg: last.first, off: last.size}, dmg, nil
}

// markDamage records damage found by a walk: the segment is not read past
// it again, and the records lost are counted once. Damage in the active
// segment makes the writer start a new one, since nothing appended behind
// the damage could be read.
func (b *Buffer) markDamage(dmg []damage) {
	if len(dmg) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range dmg {
		i := sort.Search(len(b.segs), func(i int) bool { return b.segs[i].first >= d.seg })
		if i == len(b.segs) || b.segs[i].first != d.seg {
			continue
		}
		s := b.segs[i]
		if s.badAt != 0 && s.badAt <= d.seq {
			continue
		}
		s.badAt, s.badEnd, s.badReason = d.seq, d.seq, d.reason
		if i == len(b.segs)-1 {
			b.forceRoll = true
		}
		b.cfg.Logger.Error("buffer segment damaged; records behind the damage are lost",
			"dir", b.dir, "segment", segName(s.first), "seq", d.seq, "reason", d.reason)
	}
	b.countBadLocked()
}

// countBadLocked counts the records behind damage once each, including
// those the writer appended to a damaged active segment before rolling.
func (b *Buffer) countBadLocked() {
	for i, s := range b.segs {
		if s.badAt == 0 {
			continue
		}
		end := b.durable
		if i+1 < len(b.segs) {
			end = b.segs[i+1].first
		}
		if end > s.badEnd {
			b.m.dropped.WithLabelValues(s.badReason).Add(float64(end - s.badEnd))
			s.badEnd = end
		}
	}
}

// takeScanBuf returns a read buffer for a walk: one a finished walk left,
// or nil (the scanner makes one).
func (b *Buffer) takeScanBuf() []byte {
	select {
	case buf := <-b.scanBufs:
		return buf
	default:
		return nil
	}
}

// putScanBuf keeps buf for the next walk, unless maxScanBufs are kept.
func (b *Buffer) putScanBuf(buf []byte) {
	if buf == nil {
		return
	}
	select {
	case b.scanBufs <- buf:
	default:
	}
}
