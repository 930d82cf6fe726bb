package subs

import (
	"encoding/json"

	"github.com/ponte-city/ponte/twin/ngsild"
)

// notification is one queued notification: its entities encoded as the
// JSON array of the data member, so that what a queue holds is measured
// (Config.QueueBytes) on what will be sent, and held as bytes rather
// than as maps.
type notification struct {
	data json.RawMessage
}

// envelopeBytes estimates what a notification's body adds to its data
// (id, type, subscriptionId, notifiedAt, @context): counted with each
// queued notification so that many small ones are not free.
const envelopeBytes = 256

// size is what n counts against the byte budgets.
func (n notification) size() int64 { return int64(len(n.data)) + envelopeBytes }

// encodeNotification encodes data as a queued notification.
func encodeNotification(data []ngsild.Entity) (notification, error) {
	b, err := json.Marshal(data)
	return notification{data: b}, err
}

// Queue discipline (m.mu held throughout): s.queue and s.queueBytes, and
// m.queueBytes over every subscription, change only in pushLocked and
// popLocked, which keep the gauges with them.

// pushLocked appends n to s's queue.
func (m *Manager) pushLocked(s *sub, n notification) {
	s.queue = append(s.queue, n)
	s.queueBytes += n.size()
	m.queueBytes += n.size()
	s.enqueued++
	m.met.queued.Inc()
	m.met.queuedBytes.Add(float64(n.size()))
}

// popLocked removes and returns the oldest of s's queue (not empty).
func (m *Manager) popLocked(s *sub) notification {
	n := s.queue[0]
	s.queue[0] = notification{} // the backing array must not keep it
	s.queue = s.queue[1:]
	if len(s.queue) == 0 {
		s.queue = nil
	}
	s.queueBytes -= n.size()
	m.queueBytes -= n.size()
	m.met.queued.Dec()
	m.met.queuedBytes.Sub(float64(n.size()))
	return n
}

// dropOldestLocked drops the oldest of s's queue (not empty) for reason,
// warning once per overflow rather than per notification.
func (m *Manager) dropOldestLocked(s *sub, reason string) {
	m.popLocked(s)
	m.met.dropped.WithLabelValues(reason).Inc()
	if !s.overflowing {
		s.overflowing = true
		m.cfg.Logger.Warn("ngsi-ld subscription's queue is over its bounds: dropping its oldest notifications",
			"subscription", s.def.ID, "reason", reason, "queue_size", m.cfg.QueueSize, "queue_bytes", m.cfg.QueueBytes,
			"total_queue_bytes", m.cfg.TotalQueueBytes, "last_error", s.st.lastErrorReason)
	}
}

// clearLocked drops every notification of s's queue for reason.
func (m *Manager) clearLocked(s *sub, reason string) {
	n := len(s.queue)
	for len(s.queue) > 0 {
		m.popLocked(s)
	}
	if n > 0 {
		m.met.dropped.WithLabelValues(reason).Add(float64(n))
		m.cfg.Logger.Warn("ngsi-ld notifications dropped", "subscription", s.def.ID, "count", n, "reason", reason)
	}
}

// enqueueLocked queues n for s's endpoint within the bounds: QueueSize
// and QueueBytes drop s's oldest, TotalQueueBytes the oldest of the
// largest queue (a dead endpoint's, usually), so one subscription cannot
// starve the others. A notification larger than QueueBytes alone is
// dropped.
func (m *Manager) enqueueLocked(s *sub, n notification) {
	size := n.size()
	if size > m.cfg.QueueBytes {
		m.met.dropped.WithLabelValues(dropBytes).Inc()
		m.cfg.Logger.Warn("ngsi-ld notification larger than the queue's byte budget: dropped",
			"subscription", s.def.ID, "bytes", size, "queue_bytes", m.cfg.QueueBytes)
		return
	}
	for len(s.queue) >= m.cfg.QueueSize {
		m.dropOldestLocked(s, dropQueueFull)
	}
	for s.queueBytes+size > m.cfg.QueueBytes {
		m.dropOldestLocked(s, dropBytes) // not empty: size fits the budget alone
	}
	for m.queueBytes+size > m.cfg.TotalQueueBytes {
		m.dropOldestLocked(m.largestQueueLocked(), dropBytes) // not empty: QueueBytes <= TotalQueueBytes
	}
	m.pushLocked(s, n)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// largestQueueLocked is the subscription whose queue holds the most
// bytes (nil when every queue is empty). It runs only when the total
// budget is reached, so its cost over every subscription is rare.
func (m *Manager) largestQueueLocked() *sub {
	var big *sub
	for _, s := range m.subs {
		if len(s.queue) > 0 && (big == nil || s.queueBytes > big.queueBytes) {
			big = s
		}
	}
	return big
}
