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

// flush hands the changes of the current write to the subscribers, under
// t.mu (so every subscriber sees changes in Seq order). A subscriber whose
// queue would exceed SubscriberQueue is dropped.
func (t *Twin) flush() {
	if len(t.out) == 0 {
		return
	}
	t.m.changes.Add(float64(len(t.out)))
	for s := range t.subs {
		if !s.push(t.out, t.cfg.SubscriberQueue) {
			delete(t.subs, s)
			t.m.dropped.Inc()
			t.dropped.Add(1)
			t.m.subscribers.Set(float64(len(t.subs)))
			t.log.Warn("twin: dropped a subscriber that did not keep up", "queue", t.cfg.SubscriberQueue)
		}
	}
	clear(t.out)
	t.out = t.out[:0]
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
// are some, so a change costs a subscriber an append under its lock and
// no goroutine hand-off. The SSE streams use it: at 1,000 changes/s to
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
func (q *Subscription) Take(spare []Change) []Change {
	s := q.s
	s.mu.Lock()
	batch := s.queue
	s.queue = spare[:0]
	s.mu.Unlock()
	return batch
}

// subscribe registers s with its filter and resume point and returns its
// unsubscribe.
func (t *Twin) subscribe(s *subscriber, f Filter, after uint64) func() {
	s.f, s.wake, s.done = compileFilter(f), make(chan struct{}, 1), make(chan struct{})
	t.mu.Lock()
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
			s.queue = append(s.queue, Change{})
		default:
			t.retained(after, func(e ringEntry) {
				if s.f.match(&e.c.Entity, e.bound) {
					s.queue = append(s.queue, e.c)
				}
			})
		}
	}
	t.subs[s] = struct{}{}
	t.m.subscribers.Set(float64(len(t.subs)))
	t.mu.Unlock()
	s.signal() // the pump looks at the queue first anyway
	return func() {
		t.mu.Lock()
		if _, ok := t.subs[s]; ok {
			delete(t.subs, s)
			t.m.subscribers.Set(float64(len(t.subs)))
		}
		t.mu.Unlock()
		s.stop()
	}
}

// subscriber is one Subscribe call's queue and channel (nil for
// SubscribeBatches).
type subscriber struct {
	f     filter
	after uint64        // changes up to it are skipped (a resume ahead of the twin)
	wake  chan struct{} // capacity 1: "the queue has something"
	done  chan struct{} // closed once, by stop
	once  sync.Once
	out   chan Change

	mu    sync.Mutex
	queue []Change
}

// push queues the matching changes; false means the queue is full and the
// subscriber was stopped.
func (s *subscriber) push(es []ringEntry, limit int) bool {
	s.mu.Lock()
	added := false
	for i := range es {
		if es[i].c.Seq <= s.after || !s.f.match(&es[i].c.Entity, es[i].bound) {
			continue
		}
		if len(s.queue) >= limit {
			s.queue = nil
			s.mu.Unlock()
			s.stop()
			return false
		}
		s.queue = append(s.queue, es[i].c)
		added = true
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
	var batch []Change
	for {
		s.mu.Lock()
		batch, s.queue = s.queue, batch[:0]
		s.mu.Unlock()
		for _, c := range batch {
			select {
			case s.out <- c:
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
