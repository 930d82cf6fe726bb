package twin

import (
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/paulmach/orb"
)

// ringEntry is a retained change with its entity's bound, for filtering.
type ringEntry struct {
	c     Change
	bound orb.Bound
}

// emit records a node's current snapshot as a change, under t.mu. The
// snapshot is copied; its Attrs map is shared, as it is never modified.
func (t *Twin) emit(n *node) { t.record(n, false) }

// emitRemoved records the removal of a node, with its last snapshot,
// under t.mu.
func (t *Twin) emitRemoved(n *node) { t.record(n, true) }

func (t *Twin) record(n *node, removed bool) {
	t.nextSeq()
	n.emitted = t.seq
	e := ringEntry{c: Change{Seq: t.seq, Entity: n.snap, Removed: removed}, bound: n.bound}
	if len(t.ring) < t.history {
		t.ring = append(t.ring, e)
	} else {
		t.floor = t.ring[t.head].c.Seq // evicted: resuming before it needs a resync
		t.ring[t.head] = e
	}
	t.head = (t.head + 1) % t.history
	t.count = min(t.count+1, t.history)
	t.out = append(t.out, e)
}

// flush ends the current write, under t.mu: its changes become one
// batch at the end of the change log that every subscriber reads. unlock
// wakes the subscribers waiting for one.
func (t *Twin) flush() {
	if len(t.out) == 0 {
		return
	}
	t.m.changes.Add(float64(len(t.out)))
	n := &logNode{es: slices.Clone(t.out), end: t.fan.tail.end + uint64(len(t.out))}
	t.fan.tail.next.Store(n)
	t.fan.tail = n
	t.fan.flushed = true
	clear(t.out)
	t.out = t.out[:0]
}

// unlock releases t.mu after a write; when the write flushed changes, it
// wakes the subscribers waiting for some and drops those too far behind.
func (t *Twin) unlock() {
	end, flushed := t.fan.tail.end, t.fan.flushed
	t.fan.flushed = false
	t.mu.Unlock()
	if !flushed {
		return
	}
	woken := make(chan struct{})
	close(*t.fan.wake.Swap(&woken))
	limit := uint64(t.cfg.SubscriberQueue)
	t.fan.subMu.Lock()
	for s := range t.subs {
		// taken may be past end: the subscriber took a later write's.
		if taken := s.taken.Load(); taken < end && end-taken > limit {
			delete(t.subs, s)
			s.stop()
			t.m.dropped.Inc()
			t.dropped.Add(1)
			t.m.subscribers.Set(float64(len(t.subs)))
			t.log.Warn("twin: dropped a subscriber that did not keep up", "queue", t.cfg.SubscriberQueue)
		}
	}
	t.fan.subMu.Unlock()
}

// fanout is the change log the subscribers read: a list of the batches
// flushed, which each subscriber follows from its own cursor, filtering
// as it takes, so that a change costs the twin the same whatever the
// number of subscribers. At 1,000 changes/s to 1,000 streams, queuing
// each change to each subscriber under t.mu (a copy of the change, a
// lock and a wake-up per change and subscriber) was a third of ingest's
// CPU for the streams and held every writer behind it. The log is
// garbage collected behind the slowest cursor.
type fanout struct {
	tail    *logNode // the latest batch, under t.mu
	flushed bool     // the write holding t.mu flushed a batch
	// wake is closed, and replaced, once a write has flushed a batch.
	wake  atomic.Pointer[chan struct{}]
	subMu sync.Mutex // guards Twin.subs
}

func (f *fanout) init() {
	f.tail = &logNode{}
	woken := make(chan struct{})
	f.wake.Store(&woken)
}

// logNode is the changes of one write, shared by every subscriber and
// never modified, and the next write's node once there is one.
type logNode struct {
	es   []ringEntry
	end  uint64 // changes in the log up to and including this node's
	next atomic.Pointer[logNode]
}

// at returns the i-th oldest retained change.
func (t *Twin) at(i int) *ringEntry {
	start := (t.head - t.count + t.history) % t.history
	return &t.ring[(start+i)%len(t.ring)]
}

// retainedAfter is the position among the retained changes of the first
// one with Seq > after (t.count when none). Seqs never decrease, but they
// need not be consecutive (see replica.go), so it searches.
func (t *Twin) retainedAfter(after uint64) int {
	return sort.Search(t.count, func(i int) bool { return t.at(i).c.Seq > after })
}

// retained calls fn for the retained changes with Seq > after, in order.
func (t *Twin) retained(after uint64, fn func(ringEntry)) {
	for i := t.retainedAfter(after); i < t.count; i++ {
		fn(*t.at(i))
	}
}

// Subscribe implements Reader. Each subscriber reads the twin's change
// log from its own cursor, and a goroutine moves what it reads to the
// returned channel; the goroutine ends, closing the channel, when the
// subscriber unsubscribes or is dropped (it is SubscriberQueue changes of
// the twin, matching or not, behind). after is honoured if the twin
// retains every change since it; an after the twin never issued (a
// stream of an earlier run of the process: Seq numbers start at the
// clock's microseconds, so they grow across restarts) or one older than
// the retained changes gets Seq 0 first.
func (t *Twin) Subscribe(f Filter, after uint64) (<-chan Change, func()) {
	s := &subscriber{out: make(chan Change, 64)}
	unsubscribe := t.subscribe(s, f, after)
	go s.pump(&Subscription{s: s})
	return s.out, unsubscribe
}

// SubscribeBatches is Subscribe without the channel: the caller takes the
// changes in batches (Subscription.Take) when Ready says there are some,
// so a change costs a subscriber a filter test and a pointer when it
// takes it, and no goroutine hand-off. The SSE streams use it: at 1,000
// changes/s to 1,000 streams, a channel send and receive per change and
// stream was a million goroutine wake-ups a second.
func (t *Twin) SubscribeBatches(f Filter, after uint64) (*Subscription, func()) {
	s := &subscriber{}
	return &Subscription{s: s}, t.subscribe(s, f, after)
}

// Subscription is a subscriber's cursor in the change log, taken in
// batches. Its methods may be called from one goroutine at a time.
type Subscription struct{ s *subscriber }

// closed is a channel that is always ready.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Ready is closed when there are changes after the subscription's cursor
// (ask again after each Take); a Take after it may still find none that
// match.
func (q *Subscription) Ready() <-chan struct{} {
	s := q.s
	w := s.fan.wake.Load() // before looking: a flush after it closes it
	if len(s.replay) > 0 || s.cursor.next.Load() != nil {
		return closed
	}
	return *w
}

// Dropped is closed when the twin dropped the subscriber for not keeping
// up (it was SubscriberQueue changes of the twin behind; what it had not
// taken is discarded) or when it unsubscribed. A dropped Subscription
// still holds the log from its cursor on: let go of it.
func (q *Subscription) Dropped() <-chan struct{} { return q.s.done }

// Take returns the matching changes after the cursor, in Seq order, and
// moves the cursor past them, using spare's array: the caller passes back
// the previous batch (cleared) so that a steady stream allocates nothing.
// The changes are shared with the other subscribers: read them, never
// modify them.
func (q *Subscription) Take(spare []*Change) []*Change {
	s := q.s
	out := spare[:0]
	select {
	case <-s.done:
		s.replay = nil
		return out
	default:
	}
	out = append(out, s.replay...)
	s.replay = nil
	for n := s.cursor.next.Load(); n != nil; n = n.next.Load() {
		for i := range n.es {
			e := &n.es[i]
			if e.c.Seq > s.after && s.f.match(&e.c.Entity, e.bound) {
				out = append(out, &e.c)
			}
		}
		s.cursor = n
	}
	s.taken.Store(s.cursor.end)
	return out
}

// subscribe registers s with its filter and resume point and returns its
// unsubscribe. Under t.mu every change up to t.seq is in the log up to
// its tail: s replays the retained ones it asks for and reads the log
// after the tail.
func (t *Twin) subscribe(s *subscriber, f Filter, after uint64) func() {
	s.f, s.fan, s.done = compileFilter(f), &t.fan, make(chan struct{})
	t.mu.Lock()
	s.cursor = t.fan.tail
	s.taken.Store(s.cursor.end)
	if after != 0 {
		after = t.resumePoint(after)
	}
	if after != 0 && after != t.seq {
		// Too old, unknown, or more to replay than a subscriber may queue
		// (the replay would run under the lock and be dropped at once):
		// the client reloads instead. A replicated twin waits for a
		// change it has yet to apply (see replica.go).
		switch {
		case after > t.seq && t.aheadLocked(after):
			s.after = after
		case after > t.seq || after < t.floor || t.count-t.retainedAfter(after) > t.cfg.SubscriberQueue:
			s.replay = append(s.replay, &Change{})
		default:
			t.retained(after, func(e ringEntry) {
				if s.f.match(&e.c.Entity, e.bound) {
					s.replay = append(s.replay, &e.c)
				}
			})
		}
	}
	t.fan.subMu.Lock()
	t.subs[s] = struct{}{}
	t.m.subscribers.Set(float64(len(t.subs)))
	t.fan.subMu.Unlock()
	t.mu.Unlock()
	return func() {
		t.fan.subMu.Lock()
		if _, ok := t.subs[s]; ok {
			delete(t.subs, s)
			t.m.subscribers.Set(float64(len(t.subs)))
		}
		t.fan.subMu.Unlock()
		s.stop()
	}
}

// subscriber is one Subscribe call's cursor and channel (nil for
// SubscribeBatches).
type subscriber struct {
	f     filter
	fan   *fanout
	after uint64        // changes up to it are skipped (a resume ahead of the twin)
	done  chan struct{} // closed once, by stop
	once  sync.Once
	out   chan Change

	// Owned by the goroutine taking.
	cursor *logNode  // the last node taken
	replay []*Change // taken before the log
	// taken is the cursor's end, for the twin to see how far behind
	// the subscriber is.
	taken atomic.Uint64
	// held is what the pump took and has not put on out (at least 1
	// while it takes), for tests to see that nothing waits.
	held atomic.Int64
}

func (s *subscriber) stop() { s.once.Do(func() { close(s.done) }) }

// pump moves the changes q takes to out until stopped, then closes out.
func (s *subscriber) pump(q *Subscription) {
	defer close(s.out)
	var batch []*Change
	for {
		s.held.Store(1)
		batch = q.Take(batch)
		s.held.Store(int64(len(batch)))
		for _, c := range batch {
			select {
			case s.out <- *c:
				s.held.Add(-1)
			case <-s.done:
				return
			}
		}
		s.held.Store(0)
		clear(batch)
		select {
		case <-q.Ready():
		case <-s.done:
			return
		}
	}
}

// filter is a compiled Filter.
type filter struct {
	bound *orb.Bound
	types []string
}

func compileFilter(f Filter) filter {
	out := filter{types: slices.Clone(f.Types)}
	if f.Bound != nil {
		b := *f.Bound
		out.bound = &b
	}
	return out
}

// match reports whether an entity with bound b passes the filter. A bound
// filter keeps entities whose bound intersects it (touching counts).
func (f *filter) match(e *Entity, b orb.Bound) bool {
	if f.bound != nil && !intersects(*f.bound, b) {
		return false
	}
	if len(f.types) == 0 {
		return true
	}
	for _, ty := range f.types {
		if ty == e.Type || ty == string(e.Kind) {
			return true
		}
	}
	return false
}

func intersects(a, b orb.Bound) bool {
	return a.Min[0] <= b.Max[0] && b.Min[0] <= a.Max[0] && a.Min[1] <= b.Max[1] && b.Min[1] <= a.Max[1]
}
