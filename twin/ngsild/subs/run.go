package subs

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// maxData bounds the entities of one notification: a resync or a long
// throttling period is sent as several.
const maxData = 100

// Run follows the twin's change stream and delivers notifications until
// ctx is cancelled; then it waits for its delivery goroutines and returns
// nil. It may be called once.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.ctx != nil {
		m.mu.Unlock()
		return errors.New("subs: Run called twice")
	}
	m.ctx = ctx
	for _, s := range m.subs {
		m.startLocked(s)
	}
	m.mu.Unlock()
	defer m.workers.Wait()

	// Every change since New, whatever its type: a subscription created
	// (or changed) between two changes sees every change applied after
	// it, which a stream filtered by the subscriptions' types, changed
	// when they change, would miss while it is re-subscribed. Manager.apply
	// matches each change against the subscriptions at hand.
	after := m.from
	var f twin.Filter
	ch, cancel := m.cfg.Reader.Subscribe(f, after)
	defer func() { cancel() }()
	close(m.following)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c, ok := <-ch:
			switch {
			case !ok: // dropped for not keeping up: resume where we were
				ch, cancel = m.cfg.Reader.Subscribe(f, after)
			case c.Seq == 0:
				m.resync()
			default:
				after = c.Seq
				m.apply(c)
			}
		case <-m.changed: // a throttling period may start or end sooner
		case <-timer.C:
		}
		m.flushDue()
		timer.Reset(m.untilDue())
	}
}

// selects reports whether e is one of the entities s names, matches its
// q and geoQ, and is visible to its owner's scope.
func (s *sub) selects(e *twin.Entity) bool {
	if len(s.def.Entities) > 0 && !s.named(e) {
		return false
	}
	if s.c.q != nil && !s.c.q.Match(*e) {
		return false
	}
	if s.c.geo != nil && !s.c.geo.Match(*e) {
		return false
	}
	return s.scope.Visible(e)
}

// named reports whether one of s's entity selectors names e.
func (s *sub) named(e *twin.Entity) bool {
	for i, sel := range s.def.Entities {
		if sel.Type == e.Type && (sel.ID == "" || sel.ID == e.ID) &&
			(s.c.patterns[i] == nil || s.c.patterns[i].MatchString(e.ID)) {
			return true
		}
	}
	return false
}

// watchedChanged reports whether a watched attribute of e has a value
// other than the one last notified, and records the values if so.
// Without watchedAttributes every change counts.
func (s *sub) watchedChanged(e *twin.Entity) bool {
	w := s.def.WatchedAttributes
	if len(w) == 0 {
		return true
	}
	now := map[string]string{}
	for name, v := range ngsild.Represent(*e, ngsild.KeyValues, w) {
		if name != "id" && name != "type" {
			b, _ := json.Marshal(v)
			now[name] = string(b)
		}
	}
	prev := s.last[e.ID]
	changed := false
	for _, name := range w {
		if v, ok := now[name]; ok && v != prev[name] {
			changed = true
		}
	}
	if changed {
		if s.last == nil {
			s.last = map[string]map[string]string{}
		}
		s.last[e.ID] = now
	}
	return changed
}

// render is e as s's notifications show it.
func (s *sub) render(e *twin.Entity) ngsild.Entity {
	return ngsild.Represent(*e, s.c.form, s.def.Notification.Attributes)
}

// deleted is a removed entity as a notification shows it: its id and
// type and when it went (as NGSI-LD 1.8's entityDeleted notifications).
func deleted(e *twin.Entity, at time.Time) ngsild.Entity {
	return ngsild.Entity{"id": e.ID, "type": e.Type, "deletedAt": at.UTC().Format("2006-01-02T15:04:05.000Z")}
}

// apply matches one change against every subscription.
func (m *Manager) apply(c twin.Change) {
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.subs {
		if s.statusOf(now) != "active" || !s.selects(&c.Entity) {
			continue
		}
		if c.Removed {
			delete(s.last, c.Entity.ID)
			delete(s.pending, c.Entity.ID)
			m.notifyLocked(s, c.Entity.ID, deleted(&c.Entity, now), now)
			continue
		}
		if s.watchedChanged(&c.Entity) {
			m.notifyLocked(s, c.Entity.ID, s.render(&c.Entity), now)
		}
	}
}

// resync handles a restart of the twin's stream (Seq 0: changes were
// lost): every active subscription is sent the current state of the
// entities it selects whose watched attributes differ from what it was
// last sent, or all of them without watchedAttributes.
func (m *Manager) resync() {
	m.cfg.Logger.Info("ngsi-ld subscriptions: the twin's change stream restarted; resending current state")
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.subs {
		if s.statusOf(now) != "active" {
			continue
		}
		var f twin.Filter
		for _, sel := range s.def.Entities {
			f.Types = append(f.Types, sel.Type)
		}
		for _, e := range m.cfg.Reader.Entities(f) {
			if s.selects(&e) && s.watchedChanged(&e) {
				m.notifyLocked(s, e.ID, s.render(&e), now)
			}
		}
		m.flushPendingLocked(s, now, s.c.throttle > 0)
	}
}

// notifyLocked sends data about entity id now, or keeps it for the end
// of the throttling period (the latest state of an entity wins).
func (m *Manager) notifyLocked(s *sub, id string, data ngsild.Entity, now time.Time) {
	if s.pending == nil {
		s.pending = map[string]ngsild.Entity{}
	}
	s.pending[id] = data
	if s.c.throttle > 0 && now.Before(s.next) {
		return
	}
	if s.c.throttle > 0 || len(s.pending) >= maxData {
		m.flushPendingLocked(s, now, s.c.throttle > 0)
	}
}

// flushPendingLocked queues s's pending entities as notifications of at
// most maxData entities, in ID order; throttled starts a new period.
func (m *Manager) flushPendingLocked(s *sub, now time.Time, throttled bool) {
	if len(s.pending) == 0 {
		return
	}
	ids := make([]string, 0, len(s.pending))
	for id := range s.pending {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for chunk := range slices.Chunk(ids, maxData) {
		data := make([]ngsild.Entity, len(chunk))
		for i, id := range chunk {
			data[i] = s.pending[id]
		}
		n, err := encodeNotification(data)
		if err != nil {
			m.met.dropped.WithLabelValues(dropEncode).Inc()
			m.cfg.Logger.Error("ngsi-ld notification not encodable: dropped", "subscription", s.def.ID, "err", err)
			continue
		}
		m.enqueueLocked(s, n)
	}
	s.pending = nil
	if throttled {
		s.next = now.Add(s.c.throttle)
	}
}

// flushDue sends what throttling held back whose period is over, and
// flushes unthrottled subscriptions' pending entities (kept between
// changes so that a burst is sent as one notification).
func (m *Manager) flushDue() {
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.subs {
		if len(s.pending) > 0 && !now.Before(s.next) {
			m.flushPendingLocked(s, now, s.c.throttle > 0)
		}
	}
}

// untilDue is how long until the earliest throttling period with
// pending entities ends (an hour when none).
func (m *Manager) untilDue() time.Duration {
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	d := time.Hour
	for _, s := range m.subs {
		if len(s.pending) > 0 {
			d = min(d, max(s.next.Sub(now), 0))
		}
	}
	return d
}
