package buffer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Errors callers branch on.
var (
	// ErrClosed is returned by every call after Close.
	ErrClosed = errors.New("buffer closed")
	// ErrNotDurable is what a Commit reports when its records were accepted
	// but are held in memory only because the disk failed: they are
	// written when the disk works again, unless the memory bound drops
	// them first or the process stops.
	ErrNotDurable = errors.New("records accepted in memory, not durable")
	// ErrDropped is what a Commit reports when some of its records were
	// dropped from the memory queue (over MemoryRecords) before they could
	// be written.
	ErrDropped = errors.New("records dropped from memory before they were durable")
	// ErrTooLarge is returned by Append for a record over MaxRecordBytes.
	ErrTooLarge = errors.New("record too large")
	// ErrAckBeyond is returned by Ack for a sequence number never
	// appended; nothing is freed.
	ErrAckBeyond = errors.New("ack beyond last appended sequence number")
)

// kickBytes is how much queued data makes the writer write it out before
// the next sync tick, so memory stays small at high rates.
const kickBytes = 1 << 20

// Buffer is a durable FIFO of records on local disk. See the package doc
// for the format and guarantees.
//
// Append, Read, Ack, Stats and Changed are safe for concurrent use. Read
// and Append do not wait for each other: appends only touch memory, and
// reads read durable bytes that are never rewritten. One goroutine owned by
// the Buffer writes, syncs and enforces the caps; Close stops it.
type Buffer struct {
	cfg   Config
	dir   string
	fsys  FS
	m     *metrics
	epoch uint64
	none  *group // an already-resolved group for empty appends

	kick chan struct{} // capacity 1: the queue is large, write it out
	stop chan struct{} // closed by Close
	done chan struct{} // closed when the loop has exited
	// closeErr is written by the loop before done is closed.
	closeErr error

	w writer // owned by the loop goroutine

	mu        sync.Mutex
	closed    bool
	next      uint64     // next sequence number to assign
	durable   uint64     // records below are on disk and synced
	segs      []*segment // published segments, oldest first
	head      pos        // oldest live durable record, or durable if none
	acked     uint64     // highest acknowledged sequence number
	capHead   uint64     // records below were dropped by a cap
	queue     []*batch   // appended, not yet taken by the writer
	inflight  []*batch   // written (maybe) but not yet synced
	queueRecs int
	queueSize int
	flyRecs   int
	group     *group        // the group the next appends join
	changed   chan struct{} // closed and replaced when durable advances
	readHint  pos           // where the last Read stopped
	degraded  bool
	forceRoll bool // the active segment is damaged: start a new one
	check     checkpoint
	metaDirty bool
	metaAt    time.Time // when the metadata was last written

	// scanBufs holds the read buffers of finished walks, at most
	// maxScanBufs, so that concurrent walks (Read, the loop's
	// maintenance) each have one. A channel rather than a sync.Pool: a
	// pool is emptied by every other collection, and at 100k readings/s
	// (a collection every few hundred ms under the memory limit) each
	// emptying cost a fresh 256 kB buffer, a ninth of the agent's garbage.
	scanBufs chan []byte
}

// maxScanBufs is how many read buffers (up to readChunk each) a buffer
// keeps between walks: the uplink's and the maintenance loop's.
const maxScanBufs = 2

// segment is one published segment file. Fields are guarded by Buffer.mu.
type segment struct {
	first uint64 // sequence number of its first record; its file name
	base  int64  // header base time, unix ms
	size  int64  // durable bytes, header included
	badAt uint64 // 0, or the first record that failed to verify on read
	// badEnd is how far the records behind badAt were counted as dropped,
	// badReason why.
	badEnd    uint64
	badReason string
}

// pos is the position of one record.
type pos struct {
	seq   uint64
	seg   uint64 // first of the segment holding it
	off   int64  // byte offset of its frame
	ms    int64  // its append time, when timed
	timed bool
}

// batch is the records of one Append waiting for the writer: their bytes
// back to back in data, and where each ends. Neither holds a pointer, so
// the collector does not scan the queue's records (at 100k readings/s a
// slice header per record was a third of what a poll left it).
type batch struct {
	first uint64
	ms    int64
	data  []byte
	ends  []uint32 // ends[i] is where record i ends in data
	size  int
	g     *group
}

// len is the number of records in bt.
func (bt *batch) len() int { return len(bt.ends) }

// rec returns record i of bt.
func (bt *batch) rec(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = bt.ends[i-1]
	}
	return bt.data[start:bt.ends[i]:bt.ends[i]]
}

// drop removes the first k records of bt and returns their bytes.
func (bt *batch) drop(k int) int {
	n := bt.ends[k-1]
	bt.data, bt.ends = bt.data[n:], bt.ends[k:]
	for i := range bt.ends {
		bt.ends[i] -= n
	}
	bt.first += uint64(k)
	bt.size -= int(n)
	return int(n)
}

// group is the set of appends made durable by one sync. Its fields are
// written under Buffer.mu before done is closed, and read after.
type group struct {
	done     chan struct{}
	err      error
	lost     [][2]uint64 // sequence ranges dropped from memory
	resolved bool
}

func newGroup() *group { return &group{done: make(chan struct{})} }

// resolveLocked closes the group; Buffer.mu must be held.
func (g *group) resolveLocked(err error) {
	g.err = err
	g.resolved = true
	close(g.done)
}

// Commit reports when the records of one Append are durable. The zero
// Commit is not valid; copies share the same state.
type Commit struct {
	// First and Last are the sequence numbers given to the records, in
	// order; both are 0 for an empty Append.
	First, Last uint64
	g           *group
}

// Done is closed when the records are durable or have failed to become
// durable; Err then says which.
func (c Commit) Done() <-chan struct{} { return c.g.done }

// Err is nil once the records are durable, ErrNotDurable (wrapped) when
// they are held in memory because the disk failed, ErrDropped when some
// were dropped from memory first, or ErrClosed when the buffer closed
// before they were written. It must be called only after Done is closed.
func (c Commit) Err() error {
	if c.g.err != nil {
		return c.g.err
	}
	for _, r := range c.g.lost {
		if r[0] <= c.Last && r[1] >= c.First {
			return fmt.Errorf("records %d..%d: %w", max(r[0], c.First), min(r[1], c.Last), ErrDropped)
		}
	}
	return nil
}

// Wait blocks until the records are durable (nil) or failed to become so
// (see Err), or ctx ends.
func (c Commit) Wait(ctx context.Context) error {
	select {
	case <-c.g.done:
		return c.Err()
	case <-ctx.Done():
		return fmt.Errorf("wait for records %d..%d to be durable: %w", c.First, c.Last, ctx.Err())
	}
}

// Append gives recs the next sequence numbers and queues them to be made
// durable by the next group commit (at most SyncInterval later). It never
// blocks on the disk or on a cap; the Commit says when the records are
// durable. Append copies recs; the caller may reuse them.
func (b *Buffer) Append(recs [][]byte) (Commit, error) {
	if len(recs) == 0 {
		return Commit{g: b.none}, nil
	}
	total := 0
	for i, r := range recs {
		if len(r) > MaxRecordBytes {
			return Commit{}, fmt.Errorf("append record %d of %d bytes (max %d): %w", i, len(r), MaxRecordBytes, ErrTooLarge)
		}
		total += len(r)
	}
	if uint64(total) > math.MaxUint32 {
		return Commit{}, fmt.Errorf("append %d records of %d bytes in one call (max 4 GiB): %w", len(recs), total, ErrTooLarge)
	}
	data := make([]byte, total)
	ends := make([]uint32, len(recs))
	p := 0
	for i, r := range recs {
		p += copy(data[p:], r)
		ends[i] = uint32(p)
	}
	ms := b.cfg.Now().UnixMilli()

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return Commit{}, ErrClosed
	}
	first := b.next
	b.next += uint64(len(recs))
	b.queue = append(b.queue, &batch{first: first, ms: ms, data: data, ends: ends, size: total, g: b.group})
	b.queueRecs += len(recs)
	b.queueSize += total
	dropped := b.trimMemoryLocked()
	g := b.group
	kick := b.queueSize >= kickBytes && !b.degraded
	b.mu.Unlock()

	b.m.appended.Add(float64(len(recs)))
	if dropped > 0 {
		b.m.dropped.WithLabelValues(reasonMemoryFull).Add(float64(dropped))
	}
	if kick {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return Commit{First: first, Last: first + uint64(len(recs)) - 1, g: g}, nil
}

// trimMemoryLocked drops the oldest queued records beyond MemoryRecords
// and returns how many. Records the writer has taken are not dropped:
// their memory is freed by the next sync.
func (b *Buffer) trimMemoryLocked() int {
	over := b.queueRecs - b.cfg.MemoryRecords
	dropped := 0
	for over > 0 && len(b.queue) > 0 {
		bt := b.queue[0]
		k := min(over, bt.len())
		if !bt.g.resolved {
			bt.g.lost = append(bt.g.lost, [2]uint64{bt.first, bt.first + uint64(k) - 1})
		}
		b.queueSize -= bt.drop(k)
		if bt.len() == 0 {
			b.queue[0] = nil
			b.queue = b.queue[1:]
		}
		b.queueRecs -= k
		over -= k
		dropped += k
	}
	return dropped
}

// Ack frees every record up to and including upTo: they will not be read
// again, and their segments are deleted once wholly acknowledged. A
// duplicate or older ack is harmless. An ack above the last appended
// sequence number returns ErrAckBeyond and frees nothing. The
// acknowledged position is persisted at most CheckpointInterval later;
// after a crash the records acknowledged since may be read again.
func (b *Buffer) Ack(upTo uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if upTo >= b.next {
		return fmt.Errorf("ack %d, last appended %d: %w", upTo, b.next-1, ErrAckBeyond)
	}
	if upTo > b.acked {
		b.acked = upTo
		b.metaDirty = true
		b.m.ackedSeq.Set(float64(upTo))
	}
	return nil
}

// Epoch is the buffer's epoch: sequence numbers are unique within it. It
// changes only when continuity is lost (a fresh directory, or metadata and
// segments both unreadable).
func (b *Buffer) Epoch() uint64 { return b.epoch }

// Changed returns a channel closed the next time records become durable,
// so a reader can wait for new data instead of polling. Call it before the
// Read that may come back empty, so that no signal falls in between.
func (b *Buffer) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}

// Stats is a snapshot of the buffer's state.
type Stats struct {
	Epoch uint64
	// FirstSeq is the oldest record not yet acknowledged or dropped.
	FirstSeq uint64
	// LastSeq is the last sequence number appended (0: none yet).
	LastSeq uint64
	// DurableSeq is the last sequence number on disk and synced.
	DurableSeq uint64
	// AckedSeq is the highest acknowledged sequence number.
	AckedSeq uint64
	// Records counts live records (FirstSeq..LastSeq; sequence numbers
	// dropped from memory are included until freed).
	Records uint64
	// MemoryRecords counts records held in memory only.
	MemoryRecords int
	// Bytes is the size of the segment files on disk.
	Bytes int64
	// OldestAge is the age of the oldest live record.
	OldestAge time.Duration
	// Degraded is true while the disk is failing.
	Degraded bool
}

// Stats returns a snapshot of the buffer's state.
func (b *Buffer) Stats() Stats {
	now := b.cfg.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.statsLocked(now)
}

func (b *Buffer) statsLocked(now time.Time) Stats {
	s := Stats{
		Epoch:         b.epoch,
		FirstSeq:      min(b.liveFromLocked(0), b.next),
		LastSeq:       b.next - 1,
		DurableSeq:    b.durable - 1,
		AckedSeq:      b.acked,
		MemoryRecords: b.queueRecs + b.flyRecs,
		Degraded:      b.degraded,
	}
	s.Records = b.next - s.FirstSeq
	for _, sg := range b.segs {
		s.Bytes += sg.size
	}
	switch {
	case b.head.seq < b.durable && b.head.timed:
		s.OldestAge = now.Sub(time.UnixMilli(b.head.ms))
	case len(b.inflight) > 0:
		s.OldestAge = now.Sub(time.UnixMilli(b.inflight[0].ms))
	case len(b.queue) > 0:
		s.OldestAge = now.Sub(time.UnixMilli(b.queue[0].ms))
	}
	return s
}

// Close writes and syncs what is queued, persists the metadata and
// releases the files. It waits for that at most until ctx ends. Records
// still held in memory because the disk failed are lost and counted
// (reason "shutdown"); Close then returns ErrNotDurable.
func (b *Buffer) Close(ctx context.Context) error {
	b.mu.Lock()
	already := b.closed
	b.closed = true
	b.mu.Unlock()
	if !already {
		close(b.stop)
	}
	select {
	case <-b.done:
		return b.closeErr
	case <-ctx.Done():
		return fmt.Errorf("close buffer %s: %w", b.dir, ctx.Err())
	}
}
