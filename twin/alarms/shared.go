package alarms

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrUnavailable is returned by Ack on a follower when the leader could not
// be reached (a failover in progress): the client tries again.
var ErrUnavailable = errors.New("the alarms' leader is not reachable")

// Shared is how an Engine shares its alarms with the other instances of a
// cluster (ingest/replica implements it on a replicated key-value bucket).
//
// With Config.Shared set, one instance leads at a time: its engine
// evaluates the rules and writes every changed alarm with Put (and every
// alarm dropped from the history with Delete) before an acknowledgement
// is answered. The others follow: the driver hands them each stored
// alarm (Mirror, MirrorDelete), they serve the same list and stream, and
// forward acknowledgements to the leader (ForwardAck). The driver moves
// an engine between the roles with Lead and Follow.
type Shared interface {
	// Put stores a changed alarm; Delete removes one. Called by the
	// leader, in order, never under the engine's lock. An error leaves
	// the alarm to be written again on the next change or tick.
	Put(ctx context.Context, a Alarm) error
	Delete(ctx context.Context, id string) error
	// ForwardAck asks the leader to acknowledge alarm id and returns the
	// alarm as stored, with its revision (for Mirror). Errors wrap
	// ErrNotFound, ErrConflict (with the alarm) or ErrUnavailable.
	ForwardAck(ctx context.Context, id, by, remote, note string) (Alarm, uint64, error)
}

// sharedTimeout bounds one call to Shared.
const sharedTimeout = 10 * time.Second

// Leading says whether this engine evaluates the rules: always without
// Config.Shared, else while it holds the lead.
func (e *Engine) Leading() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leading
}

// Lead makes this engine the one that evaluates, starting from list, the
// alarms as stored (read by the driver just now). Windows and minimum
// durations start again from the twin's next changes; an active alarm
// whose rule is gone from the configuration clears.
func (e *Engine) Lead(list []Alarm) {
	now := e.cfg.Now()
	e.mu.Lock()
	e.replace(list)
	e.leading, e.reseedDue = true, true
	e.tracks = map[key]*track{}
	e.dirty, e.gone = map[string]bool{}, map[string]bool{}
	for _, a := range e.byID {
		if n, ok := alarmNumber(a.ID); ok {
			e.seq = max(e.seq, n)
		}
	}
	e.seq = max(e.seq, uint64(now.UnixMilli()))
	for k, a := range e.open {
		if a.State.active() && e.rule(a.Rule) == nil {
			e.clear(k, a, now, "rule removed")
		}
	}
	e.m.leader.Set(1)
	e.updateGauges()
	e.mu.Unlock()
	// No write here: the driver renews its lease from the goroutine that
	// calls Lead; Run's next round writes what changed.
	e.log.Info("alarms: this instance leads: it evaluates the rules", "alarms", len(list))
}

// Follow stops this engine evaluating: another instance leads, and
// Mirror keeps this one's alarms. Changes not yet written are dropped
// (the new leader evaluates them again).
func (e *Engine) Follow() {
	e.mu.Lock()
	was := e.leading
	e.leading = false
	e.tracks = map[key]*track{}
	e.dirty, e.gone = map[string]bool{}, map[string]bool{}
	e.m.leader.Set(0)
	e.mu.Unlock()
	if was {
		e.log.Warn("alarms: this instance no longer leads; following the stored alarms")
	}
}

// Resync replaces this follower's alarms with list, the alarms as stored
// (revs: each one's revision), after it gave up the lead: what it raised,
// cleared or wrote as leader may not be what the store holds. Every
// stream of alarm events is closed (its client subscribes again and gets
// the list).
func (e *Engine) Resync(list []Alarm, revs map[string]uint64, floor uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leading {
		return
	}
	e.replace(list)
	e.revs = maps.Clone(revs)
	e.delFloor = floor
	for s := range e.subs {
		delete(e.subs, s)
		close(s.ch)
	}
	e.updateGauges()
}

// Mirror applies alarm a as stored at revision rev (on a follower; the
// leader keeps its own). An older revision than one already applied to
// the same alarm is ignored: an acknowledgement's answer may overtake the
// stored changes before it.
func (e *Engine) Mirror(a Alarm, rev uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leading || !e.takeRev(a.ID, rev) {
		return
	}
	e.drop(a.ID)
	p := e.add(a)
	if !p.State.open() {
		e.trimClosed()
	}
	e.emit(p)
}

// MirrorDelete removes alarm id, deleted from the store at revision rev.
func (e *Engine) MirrorDelete(id string, rev uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leading || !e.takeRev(id, rev) {
		return
	}
	// Forget the alarm's revision (the map would grow with every alarm
	// ever deleted); a late answer about it is older than the floor.
	delete(e.revs, id)
	e.delFloor = max(e.delFloor, rev)
	e.drop(id)
	e.updateGauges()
}

// takeRev records rev as alarm id's latest and says whether it is newer
// than the one applied, under e.mu. An alarm whose revision is not known
// is new, unless its revision is at or under the last deletion's (an
// answer that overtook the alarm's deletion).
func (e *Engine) takeRev(id string, rev uint64) bool {
	last, known := e.revs[id]
	if rev == 0 || rev <= last || (!known && rev <= e.delFloor) {
		return false
	}
	e.revs[id] = rev
	return true
}

// drop removes alarm id from every index, under e.mu.
func (e *Engine) drop(id string) {
	old := e.byID[id]
	if old == nil {
		return
	}
	delete(e.byID, id)
	if k := (key{old.Rule, old.Entity}); e.open[k] == old {
		delete(e.open, k)
	}
	e.closed = slices.DeleteFunc(e.closed, func(c *Alarm) bool { return c == old })
}

// add indexes a copy of a (by ID, and as open or closed) and returns it,
// under e.mu.
func (e *Engine) add(a Alarm) *Alarm {
	p := new(Alarm)
	*p = copyAlarm(&a)
	e.byID[p.ID] = p
	if p.State.open() {
		e.open[key{p.Rule, p.Entity}] = p
	} else {
		e.closed = append(e.closed, p)
	}
	return p
}

// replace sets the alarms to list, under e.mu.
func (e *Engine) replace(list []Alarm) {
	e.byID, e.open, e.closed = map[string]*Alarm{}, map[key]*Alarm{}, nil
	for i := range list {
		e.add(list[i])
	}
	slices.SortStableFunc(e.closed, func(x, y *Alarm) int { return x.UpdatedAt.Compare(y.UpdatedAt) })
	e.trimClosed()
}

// trimClosed keeps the MaxClosed most recent closed alarms, under e.mu.
func (e *Engine) trimClosed() {
	over := len(e.closed) - e.cfg.MaxClosed
	if over <= 0 {
		return
	}
	for _, old := range e.closed[:over] {
		delete(e.byID, old.ID)
		e.forget(old.ID)
	}
	e.closed = slices.Delete(e.closed, 0, over)
}

// forget records that alarm id left the engine, under e.mu: the leader
// deletes it from the shared store on the next save.
func (e *Engine) forget(id string) {
	if e.shared != nil && e.leading {
		e.gone[id] = true
		delete(e.dirty, id)
	}
}

// alarmNumber is the number in an alarm ID ("al-<n>").
func alarmNumber(id string) (uint64, bool) {
	s, ok := strings.CutPrefix(id, "al-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// saveShared writes the changed alarms to the shared store (the leader);
// the caller holds writeMu.
func (e *Engine) saveShared() {
	e.mu.Lock()
	if !e.leading {
		e.mu.Unlock()
		return
	}
	puts := make([]Alarm, 0, len(e.dirty))
	for id := range e.dirty {
		if a := e.byID[id]; a != nil {
			puts = append(puts, finite(copyAlarm(a)))
		}
	}
	dels := make([]string, 0, len(e.gone))
	for id := range e.gone {
		dels = append(dels, id)
	}
	e.dirty, e.gone = map[string]bool{}, map[string]bool{}
	e.mu.Unlock()
	slices.SortFunc(puts, func(x, y Alarm) int { return x.UpdatedAt.Compare(y.UpdatedAt) })
	var failed []string
	var gone []string
	for _, a := range puts {
		if !e.Leading() {
			// The lead moved while writing: what is left is the new
			// leader's to decide.
			dels = nil
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		if err := e.shared.Put(ctx, a); err != nil {
			failed = append(failed, a.ID)
			e.log.Warn("alarms: store an alarm", "alarm", a.ID, "err", err)
		}
		cancel()
	}
	for _, id := range dels {
		if !e.Leading() {
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		if err := e.shared.Delete(ctx, id); err != nil {
			gone = append(gone, id)
			e.log.Warn("alarms: delete an alarm from the store", "alarm", id, "err", err)
		}
		cancel()
	}
	if len(failed)+len(gone) == 0 {
		return
	}
	e.m.writeErrors.Add(float64(len(failed) + len(gone)))
	e.mu.Lock()
	if e.leading {
		for _, id := range failed {
			e.dirty[id] = true
		}
		for _, id := range gone {
			e.gone[id] = true
		}
		e.version++
	}
	e.mu.Unlock()
}

// finite replaces NaN and infinities (JSON has neither) by 0: never store
// what cannot be read back.
func finite(a Alarm) Alarm {
	for _, p := range []*float64{&a.Value, &a.ValueAtRaise, &a.Peak, &a.Threshold} {
		if math.IsNaN(*p) || math.IsInf(*p, 0) {
			*p = 0
		}
	}
	return a
}

// forwardAck is Ack on a follower.
func (e *Engine) forwardAck(id, by, remote, note string) (Alarm, error) {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	a, rev, err := e.shared.ForwardAck(ctx, id, by, remote, note)
	switch {
	case err == nil, errors.Is(err, ErrConflict):
		if a.ID != id || rev == 0 {
			// Not an answer about this alarm as stored: the watch
			// brings the stored change.
			return a, err
		}
		e.Mirror(a, rev)
		return a, err
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnavailable):
		return a, err
	default:
		return a, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
}

// takeReseed says (once) whether the engine just took the lead and must
// evaluate every site again.
func (e *Engine) takeReseed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	due := e.reseedDue
	e.reseedDue = false
	return due
}

// ackShared is Ack on the leader with Config.Shared: the acknowledged
// alarm is stored first, and the acknowledgement is answered (and applied
// here) only once it is, so that an operator is never told an alarm is
// acknowledged that a failover would forget. writeMu orders it with the
// other writes of the alarm.
func (e *Engine) ackShared(id string, ack Ack) (Alarm, error) {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	e.mu.Lock()
	a, ok := e.byID[id]
	switch {
	case !ok:
		e.mu.Unlock()
		return Alarm{}, ErrNotFound
	case a.Acknowledged != nil || a.State == Closed:
		out := copyAlarm(a)
		e.mu.Unlock()
		return out, ErrConflict
	}
	next := copyAlarm(a)
	applyAck(&next, ack)
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	if !e.Leading() {
		return Alarm{}, ErrUnavailable
	}
	if err := e.shared.Put(ctx, finite(next)); err != nil {
		e.m.writeErrors.Inc()
		return Alarm{}, fmt.Errorf("%w: store the acknowledgement: %v", ErrUnavailable, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if a, ok = e.byID[id]; ok && a.Acknowledged == nil && a.State != Closed {
		if applyAck(a, ack) {
			e.close(key{a.Rule, a.Entity}, a)
		}
		e.emit(a)
	}
	e.log.Info("alarm acknowledged", "alarm", id, "rule", next.Rule, "entity", next.Entity, "by", ack.By, "remote", ack.Remote, "state", next.State)
	return next, nil
}
