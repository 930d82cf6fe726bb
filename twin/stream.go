package twin

import (
	"slices"
	"sort"
	"sync"

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
// batch, shared by every subscriber, that deliver hands over once t.mu is
// released. Writers call unlock, which delivers.
func (t *Twin) flush() {
	if len(t.out) == 0 {
		return
	}
	t.m.changes.Add(float64(len(t.out)))
	t.fan.gen++
	b := fanBatch{gen: t.fan.gen, es: slices.Clone(t.out)}
	t.fan.pendMu.Lock()
	t.fan.pending = append(t.fan.pending, b)
	t.fan.pendMu.Unlock()
	clear(t.out)
	t.out = t.out[:0]
}

// unlock releases t.mu after a write and delivers its changes.
func (t *Twin) unlock() {
	t.mu.Unlock()
	t.deliver()
}

// fanout hands the twin's changes to the subscribers outside t.mu, in
// batches. At 1,000 changes/s to 1,000 streams, queuing each change to
// each subscriber under t.mu (a copy of the change, a lock and a wake-up
// per change and subscriber) was a third of ingest's CPU for the streams
// and held every writer behind it; now a subscriber costs a lock and a
// wake-up per delivery, which takes every batch flushed since the last
// one, and a pointer per matching change.
type fanout struct {
	gen uint64 // the latest batch's generation, under t.mu

	pendMu  sync.Mutex
	pending []fanBatch // flushed, not yet delivered, in order

	delivering sync.Mutex // held by the one goroutine delivering
	subMu      sync.Mutex // guards Twin.subs
}

// fanBatch is the changes of one write, shared by every subscriber and
// never modified.
type fanBatch struct {
	gen uint64
	es  []ringEntry
}

// deliver hands the pending batches to the subscribers, unless another
// goroutine is doing so: that one then finds them when it looks again
// after its own delivery, so batches go out in order and none waits for
// the next write.
func (t *Twin) deliver() {
	for {
		if !t.fan.delivering.TryLock() {
			return
		}
		t.fan.pendMu.Lock()
		batches := t.fan.pending
		t.fan.pending = nil
		t.fan.pendMu.Unlock()
		if len(batches) > 0 {
			t.fan.subMu.Lock()
			for s := range t.subs {
				if !s.push(batches, t.cfg.SubscriberQueue) {
					delete(t.subs, s)
					t.m.dropped.Inc()
					t.dropped.Add(1)
					t.m.subscribers.Set(float64(len(t.subs)))
					t.log.Warn("twin: dropped a subscriber that did not keep up", "queue", t.cfg.SubscriberQueue)
				}
			}
			t.fan.subMu.Unlock()
		}
		t.fan.delivering.Unlock()
		t.fan.pendMu.Lock()
		more := len(t.fan.pending) > 0
		t.fan.pendMu.Unlock()
		if !more {
			return
		}
	}
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

// Subscribe implements Reader. Each subscriber has a queue (bounded by
// SubscriberQueue) that the twin appends to without blocking and a
// goroutine that moves it to the returned channel; the goroutine ends,
// closing the channel, when the subscriber unsubscribes or is dropped.
// after is honoured if the twin retains every change since it; an after
// the twin never issued (a stream of an earlier run of the process: Seq
// numbers start at the clock's microseconds, so they grow across
// restarts) or one older than the retained changes gets Seq 0 first.
func (t *Twin) Subscribe(f Filter, after uint64) (<-chan Change, func()) {
	s := &subscriber{out: make(chan Change, 64)}
	unsubscribe := t.subscribe(s, f, after)
	go s.pump()
	return s.out, unsubscribe
}

// SubscribeBatches is Subscribe without the channel: the caller takes the
// queued changes in batches (Subscription.Take) when Ready says there
// are some, so a change costs a subscriber a pointer appended under its
// lock and no goroutine hand-off. The SSE streams use it: at 1,000 changes/s to
// 1,000 streams, a channel send and receive per change and stream was a
// million goroutine wake-ups a second.
func (t *Twin) SubscribeBatches(f Filter, after uint64) (*Subscription, func()) {
	s := &subscriber{}
	return &Subscription{s: s}, t.subscribe(s, f, after)
}

// Subscription is a subscriber's queue, taken in batches. Its methods may
// be called from one goroutine at a time.
type Subscription struct{ s *subscriber }

// Ready is signalled (capacity 1) when changes were queued since the last
// Take; a Take after it may still find none.
func (q *Subscription) Ready() <-chan struct{} { return q.s.wake }

// Dropped is closed when the twin dropped the subscriber for not keeping
// up (its queue reached SubscriberQueue; the queued changes are
// discarded) or when it unsubscribed.
func (q *Subscription) Dropped() <-chan struct{} { return q.s.done }

// Take returns the queued changes, in Seq order, and empties the queue,
// which keeps spare's array for the next changes: the caller passes back
// the previous batch (cleared) so that a steady stream allocates nothing.
// The changes are shared with the other subscribers: read them, never
// modify them.
func (q *Subscription) Take(spare []*Change) []*Change {
	s := q.s
	s.mu.Lock()
	batch := s.queue
	s.queue = spare[:0]
	s.mu.Unlock()
	return batch
}

// subscribe registers s with its filter and resume point and returns its
// unsubscribe. Under t.mu every change up to t.seq is in a flushed batch
// up to t.fan.gen, whether delivered yet or not: s replays the retained
// ones it asks for and takes the batches after.
func (t *Twin) subscribe(s *subscriber, f Filter, after uint64) func() {
	s.f, s.wake, s.done = compileFilter(f), make(chan struct{}, 1), make(chan struct{})
	t.mu.Lock()
	s.from = t.fan.gen + 1
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
			s.queue = append(s.queue, &Change{})
		default:
			t.retained(after, func(e ringEntry) {
				if s.f.match(&e.c.Entity, e.bound) {
					s.queue = append(s.queue, &e.c)
				}
			})
		}
	}
	t.fan.subMu.Lock()
	t.subs[s] = struct{}{}
	t.m.subscribers.Set(float64(len(t.subs)))
	t.fan.subMu.Unlock()
	t.mu.Unlock()
	s.signal() // the pump looks at the queue first anyway
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

// subscriber is one Subscribe call's queue and channel (nil for
// SubscribeBatches).
type subscriber struct {
	f     filter
	from  uint64        // the first batch generation it takes
	after uint64        // changes up to it are skipped (a resume ahead of the twin)
	wake  chan struct{} // capacity 1: "the queue has something"
	done  chan struct{} // closed once, by stop
	once  sync.Once
	out   chan Change

	mu    sync.Mutex
	queue []*Change // into the shared batches (or its own replay)
}

// push queues the matching changes of batches; false means the queue is
// full and the subscriber was stopped.
func (s *subscriber) push(batches []fanBatch, limit int) bool {
	s.mu.Lock()
	added := false
	for _, b := range batches {
		if b.gen < s.from {
			continue
		}
		for i := range b.es {
			e := &b.es[i]
			if e.c.Seq <= s.after || !s.f.match(&e.c.Entity, e.bound) {
				continue
			}
			if len(s.queue) >= limit {
				s.queue = nil
				s.mu.Unlock()
				s.stop()
				return false
			}
			s.queue = append(s.queue, &e.c)
			added = true
		}
	}
	s.mu.Unlock()
	if added {
		s.signal()
	}
	return true
}

func (s *subscriber) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) stop() { s.once.Do(func() { close(s.done) }) }

// pump moves queued changes to out until stopped, then closes out.
func (s *subscriber) pump() {
	defer close(s.out)
	var batch []*Change
	for {
		s.mu.Lock()
		batch, s.queue = s.queue, batch[:0]
		s.mu.Unlock()
		for _, c := range batch {
			select {
			case s.out <- *c:
			case <-s.done:
				return
			}
		}
		clear(batch)
		select {
		case <-s.wake:
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
