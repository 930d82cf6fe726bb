package buffer

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Open opens the buffer in cfg.Dir, creating it if needed, and recovers
// what a crash left: it reads the metadata, the header of every segment,
// the one record at the saved head and the tail of the last segment from
// the saved checkpoint, so start-up time does not grow with the buffer.
// Damage is cut off and counted (see the package doc). Open fails if the
// directory, the metadata or a segment cannot be created, listed or read
// (an I/O error, not damage), or ctx ends; the caller retries. It also
// fails, before changing anything on disk, if a segment was written in a
// format version this build does not read: a *VersionError wrapping
// ErrUnknownVersion, which retrying does not cure (see the package doc).
func Open(ctx context.Context, cfg Config) (*Buffer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("register buffer metrics: %w", err)
	}
	b := &Buffer{
		scanBufs: make(chan []byte, maxScanBufs),
		cfg:      cfg,
		dir:      cfg.Dir,
		fsys:     cfg.FS,
		m:        m,
		none:     newGroup(),
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		group:    newGroup(),
		changed:  make(chan struct{}),
	}
	b.none.resolveLocked(nil) // not yet shared
	if err := b.recover(ctx); err != nil {
		if b.w.f != nil {
			_ = b.w.f.Close()
		}
		return nil, fmt.Errorf("open buffer %s: %w", cfg.Dir, err)
	}
	go b.run()
	return b, nil
}

// found is a segment file seen at start-up.
type found struct {
	first uint64
	size  int64
	hdr   segHeader
	err   error // header error
	zero  bool  // the header bytes are all zero
}

func (b *Buffer) recover(ctx context.Context) error {
	log := b.cfg.Logger
	if err := b.fsys.MkdirAll(b.dir, 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	md, err := readMeta(b.fsys, b.dir)
	if errors.Is(err, errMetaCorrupt) {
		log.Warn("buffer metadata unreadable; recovering from the segments", "dir", b.dir, "err", err)
		md = nil
	} else if err != nil {
		return err
	}
	entries, err := b.fsys.ReadDir(b.dir)
	if err != nil {
		return fmt.Errorf("list directory: %w", err)
	}
	var fds []found
	for _, e := range entries {
		if e.Name() == metaTmpName {
			_ = b.fsys.Remove(filepath.Join(b.dir, e.Name()))
			continue
		}
		first, ok := parseSegName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fd, err := b.readHeader(first)
		if err != nil {
			return err
		}
		fds = append(fds, fd)
	}
	sort.Slice(fds, func(i, j int) bool { return fds[i].first < fds[j].first })

	fresh := false
	switch {
	case md != nil:
		b.epoch = md.Epoch
	default:
		for i := len(fds) - 1; i >= 0 && b.epoch == 0; i-- {
			if fds[i].err == nil {
				b.epoch = fds[i].hdr.epoch
				log.Warn("buffer metadata missing; epoch taken from the segments", "dir", b.dir, "epoch", b.epoch)
			}
		}
		if b.epoch == 0 {
			b.epoch, fresh = newEpoch(), true
			log.Info("buffer created with a new epoch", "dir", b.dir, "epoch", b.epoch)
		}
	}
	b.setAside(fds)

	next, tailNext := uint64(1), uint64(0)
	if len(b.segs) > 0 {
		if tailNext, err = b.recoverTail(md); err != nil {
			return err
		}
		next = tailNext
	}
	if md != nil {
		// Never hand out again a sequence number that may have been durable.
		next = max(next, md.Acked+1, md.Check.Next, md.HeadSeq)
	}
	b.next, b.durable = next, next
	b.openWriter(tailNext)
	b.recoverHead(md)
	if md != nil {
		b.acked = min(md.Acked, next-1)
	}
	b.capHead = b.head.seq
	if len(b.segs) > 0 {
		last := b.segs[len(b.segs)-1]
		b.check = checkpoint{Segment: last.first, Offset: last.size, Next: next}
	}
	live := next - min(b.liveFromLocked(0), next)
	b.m.recovered.Add(float64(live))
	b.m.ackedSeq.Set(float64(b.acked))
	b.m.durableSeq.Set(float64(next - 1))
	b.gaugesLocked(b.cfg.Now())
	if err := syncDir(b.fsys, b.dir); err != nil {
		log.Warn("buffer directory not synced", "dir", b.dir, "err", err)
	}
	if fresh {
		b.metaAt = time.Now()
		if err := writeMeta(b.fsys, b.dir, b.metaLocked()); err != nil {
			b.metaDirty = true
			log.Warn("buffer metadata not written", "dir", b.dir, "err", err)
		}
	}
	log.Info("buffer opened", "dir", b.dir, "epoch", b.epoch, "segments", len(b.segs),
		"first_seq", b.liveFromLocked(0), "next_seq", next, "records", live)
	return nil
}

func (b *Buffer) readHeader(first uint64) (found, error) {
	fd := found{first: first}
	f, err := b.fsys.OpenFile(b.segPath(first), os.O_RDONLY, 0)
	if err != nil {
		return fd, fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fd, fmt.Errorf("stat segment %s: %w", segName(first), err)
	}
	fd.size = st.Size()
	buf := make([]byte, headerSize)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fd, fmt.Errorf("read segment header %s: %w", segName(first), err)
	}
	fd.hdr, fd.err = decodeHeader(buf[:n])
	if ve := (*VersionError)(nil); errors.As(fd.err, &ve) {
		ve.Path = b.segPath(first)
		return fd, ve
	}
	fd.zero = allZero(buf[:n])
	return fd, nil
}

// setAside publishes the usable segments and moves the others out of the
// way: a last segment with a torn or zero header (created just before a
// crash, so nothing in it was reported durable) is deleted; any other is
// renamed *.corrupt for a technician and its records counted as dropped.
func (b *Buffer) setAside(fds []found) {
	for i, fd := range fds {
		reason := ""
		switch {
		case fd.err != nil || fd.hdr.first != fd.first:
			reason = reasonHeader
		case fd.hdr.epoch != b.epoch:
			reason = reasonEpoch
		}
		if reason == "" {
			b.segs = append(b.segs, &segment{first: fd.first, base: fd.hdr.base, size: fd.size})
			continue
		}
		name := b.segPath(fd.first)
		if i == len(fds)-1 && (fd.size < headerSize || fd.zero) {
			r := reasonTorn
			if fd.zero {
				r = reasonZero
			}
			b.m.droppedBytes.WithLabelValues(r).Add(float64(fd.size))
			b.cfg.Logger.Warn("buffer segment created just before a crash removed", "segment", name, "bytes", fd.size)
			_ = b.fsys.Remove(name)
			continue
		}
		var lost uint64
		if i+1 < len(fds) {
			lost = fds[i+1].first - fd.first
		}
		b.m.dropped.WithLabelValues(reason).Add(float64(lost))
		b.m.droppedBytes.WithLabelValues(reason).Add(float64(fd.size))
		b.cfg.Logger.Error("buffer segment unusable; set aside", "segment", name, "reason", reason,
			"err", fd.err, "segment_epoch", fd.hdr.epoch, "epoch", b.epoch)
		if err := b.fsys.Rename(name, name+".corrupt"); err != nil {
			b.cfg.Logger.Error("buffer segment not set aside", "segment", name, "err", err)
		}
	}
}

// recoverTail scans the last segment from the checkpoint (or its start),
// cuts off a torn, corrupt or zero-filled tail and returns the next
// sequence number.
func (b *Buffer) recoverTail(md *meta) (uint64, error) {
	ls := b.segs[len(b.segs)-1]
	start, seq := int64(headerSize), ls.first
	if md != nil && md.Check.Segment == ls.first && md.Check.Offset >= headerSize &&
		md.Check.Offset <= ls.size && md.Check.Next >= ls.first {
		start, seq = md.Check.Offset, md.Check.Next
	}
	name := b.segPath(ls.first)
	f, err := b.fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("open last segment: %w", err)
	}
	defer f.Close()
	sc := newScanner(f, ls.base, start, ls.size, nil)
	var st scanStatus
	for {
		_, _, st, err = sc.next()
		if err != nil {
			return 0, fmt.Errorf("recover %s: %w", name, err)
		}
		if st != scanOK {
			break
		}
		seq++
	}
	if st == scanEnd {
		return seq, nil
	}
	reason, records := reasonCRC, 1.0
	if zero, err := restIsZero(f, sc.off, ls.size); err == nil && zero {
		reason, records = reasonZero, 0
	} else if st == scanTorn {
		reason = reasonTorn
	}
	cut := ls.size - sc.off
	b.m.dropped.WithLabelValues(reason).Add(records)
	b.m.droppedBytes.WithLabelValues(reason).Add(float64(cut))
	b.cfg.Logger.Warn("buffer tail damaged; cut off", "segment", name, "reason", reason, "seq", seq,
		"offset", sc.off, "bytes", cut)
	ls.size = sc.off
	if err := b.truncate(name, sc.off); err != nil {
		b.cfg.Logger.Error("buffer tail not truncated; appends go to a new segment", "segment", name, "err", err)
		b.forceRoll = true
	}
	return seq, nil
}

func (b *Buffer) truncate(name string, size int64) error {
	f, err := b.fsys.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// openWriter continues the last segment. Its tail is synced first: after
// a kill -9 it may hold records the kernel never wrote back, and they are
// about to be treated as durable.
func (b *Buffer) openWriter(tailNext uint64) {
	b.w.nextSeq = b.next
	if len(b.segs) == 0 || b.forceRoll {
		b.forceRoll = false
		return
	}
	ls := b.segs[len(b.segs)-1]
	f, err := b.fsys.OpenFile(b.segPath(ls.first), os.O_WRONLY, 0)
	if err == nil {
		_, err = f.Seek(ls.size, io.SeekStart)
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			_ = f.Close()
		}
	}
	if err != nil {
		b.cfg.Logger.Warn("buffer last segment not reopened; appends go to a new segment", "segment", segName(ls.first), "err", err)
		return
	}
	// If next is above tailNext (the metadata knew of later records), the
	// writer sees the gap and rolls on its own.
	b.w.f, b.w.seg, b.w.off, b.w.nextSeq = f, ls, ls.size, tailNext
}

// recoverHead finds the oldest live record: the saved head if the record
// there still verifies, else the start of the first segment (the
// acknowledged records before it are then skipped by the first
// maintenance pass).
func (b *Buffer) recoverHead(md *meta) {
	if len(b.segs) == 0 {
		b.head = pos{seq: b.next}
		return
	}
	first, last := b.segs[0], b.segs[len(b.segs)-1]
	b.head = pos{seq: first.first, seg: first.first, off: headerSize}
	if md == nil || md.HeadSeq < first.first {
		return
	}
	if md.HeadSeq >= b.next {
		b.head = pos{seq: b.next, seg: last.first, off: last.size}
		return
	}
	i := sort.Search(len(b.segs), func(i int) bool { return b.segs[i].first >= md.HeadSegment })
	if i == len(b.segs) || b.segs[i].first != md.HeadSegment || md.HeadSeq < md.HeadSegment ||
		md.HeadOffset < headerSize || md.HeadOffset >= b.segs[i].size {
		return
	}
	s := b.segs[i]
	f, err := b.fsys.OpenFile(b.segPath(s.first), os.O_RDONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	if _, ms, st, err := newScanner(f, s.base, md.HeadOffset, s.size, nil).next(); err == nil && st == scanOK {
		b.head = pos{seq: md.HeadSeq, seg: s.first, off: md.HeadOffset, ms: ms, timed: true}
	}
}

// newEpoch returns a random non-zero epoch. Random, not time-based: a box
// without a real-time clock boots in 1970 every time.
func newEpoch() uint64 {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return uint64(time.Now().UnixNano()) | 1
		}
		if e := binary.LittleEndian.Uint64(b[:]); e != 0 {
			return e
		}
	}
}
