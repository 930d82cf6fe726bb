package alarms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/twin"
)

// Defaults for Config's zero fields.
const (
	DefaultMaxOpen   = 1000
	DefaultMaxClosed = 500
	DefaultTick      = time.Second
	// subscriberQueue bounds one stream's pending events; a stream that
	// falls further behind is dropped (its channel closed).
	subscriberQueue = 256
	// valueSaveEvery is how often the latest values of open alarms are
	// written when nothing else changed.
	valueSaveEvery = 30 * time.Second
)

// Errors of Ack.
var (
	ErrNotFound = errors.New("no such alarm")
	ErrConflict = errors.New("alarm already acknowledged")
)

// Config configures an Engine. Zero fields take the defaults above.
type Config struct {
	// Reader is the twin (required): its sites' changes and its indicators.
	Reader twin.Reader
	// Rules are the checked rules (see Rules).
	Rules []Rule
	// StateFile keeps the alarms across restarts ("" keeps them in memory
	// only). It is replaced atomically on each change.
	StateFile string
	// Shared, if set, shares the alarms with the other instances of a
	// cluster instead of a state file (see Shared). The engine starts as
	// a follower; its driver calls Lead when it holds the lead.
	Shared Shared
	// MaxOpen caps the open alarms (raised, acknowledged, cleared); at the
	// cap, raising evicts the oldest cleared-unacknowledged alarm, or is
	// refused and counted when there is none. MaxClosed caps the closed
	// alarms kept for the recent history (oldest dropped first).
	MaxOpen   int
	MaxClosed int
	// Tick is how often minimum durations, rolling windows and indicators
	// are looked at.
	Tick time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger receives state changes of alarms (nil discards).
	Logger *slog.Logger
	// Registerer receives the metrics (nil registers none).
	Registerer prometheus.Registerer
}

// Validate reports the problems of c, naming the field.
func (c Config) Validate() error {
	var errs []error
	if c.Reader == nil {
		errs = append(errs, errors.New("alarms config.Reader: the twin is required"))
	}
	if c.StateFile != "" && c.Shared != nil {
		errs = append(errs, errors.New("alarms config: StateFile and Shared: one store only (the shared one keeps the alarms of every instance)"))
	}
	if c.MaxOpen < 0 || c.MaxClosed < 0 || c.Tick < 0 {
		errs = append(errs, fmt.Errorf("alarms config: MaxOpen %d, MaxClosed %d, Tick %v: want >= 0 (0: default)", c.MaxOpen, c.MaxClosed, c.Tick))
	}
	ids := map[string]bool{}
	for i, r := range c.Rules {
		if ids[r.ID] {
			errs = append(errs, fmt.Errorf("alarms config.Rules[%d]: rule %q twice", i, r.ID))
		}
		ids[r.ID] = true
	}
	return errors.Join(errs...)
}

// key is one rule on one entity: at most one open alarm each.
type key struct{ rule, entity string }

// track is the evaluation state of one key.
type track struct {
	win     *window // nil: the latest value
	latest  float64
	has     bool
	lastObs time.Time
	fresh   bool
	// since is when the condition started to differ from the alarm's
	// state (exceeding while not raised, back to normal while raised);
	// zero while it does not.
	since time.Time
	info  entityInfo
}

// entityInfo is what an alarm says of its entity.
type entityInfo struct {
	kind, name, area string
	loc              *[2]float64
}

// Engine evaluates the rules on the twin's changes and keeps the alarms.
// Run drives it; the other methods are safe for concurrent use.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	m     *metrics
	rules []Rule

	mu         sync.Mutex
	tracks     map[key]*track
	byID       map[string]*Alarm
	open       map[key]*Alarm
	closed     []*Alarm // oldest first
	seq        uint64
	subs       map[*subscriber]struct{}
	version    uint64 // counts changes to write
	valueDirty bool
	valueSaved time.Time

	writeMu sync.Mutex
	written uint64 // version last written, under writeMu

	// With Config.Shared (see shared.go), under mu: whether this engine
	// leads, whether it must evaluate every site again, the alarms to
	// store and to delete, the alarms whose values moved, and the
	// revision of each alarm last mirrored.
	shared    Shared
	leading   bool
	reseedDue bool
	dirty     map[string]bool
	gone      map[string]bool
	moved     map[string]bool
	revs      map[string]uint64
	delFloor  uint64 // the revision of the last deletion mirrored
}

// New checks cfg, loads the state file (a corrupt one is moved aside and
// logged) and returns an Engine.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxOpen == 0 {
		cfg.MaxOpen = DefaultMaxOpen
	}
	if cfg.MaxClosed == 0 {
		cfg.MaxClosed = DefaultMaxClosed
	}
	if cfg.Tick == 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("alarms: register metrics: %w", err)
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, m: m, rules: cfg.Rules, tracks: map[key]*track{},
		byID: map[string]*Alarm{}, open: map[key]*Alarm{}, subs: map[*subscriber]struct{}{},
		shared: cfg.Shared, leading: cfg.Shared == nil, dirty: map[string]bool{}, gone: map[string]bool{},
		moved: map[string]bool{}, revs: map[string]uint64{}}
	now := cfg.Now()
	e.seq = uint64(now.UnixMilli())
	if err := e.load(now); err != nil {
		return nil, err
	}
	if e.leading {
		e.m.leader.Set(1)
	}
	e.updateGauges()
	return e, nil
}

// rule returns the rule of an ID.
func (e *Engine) rule(id string) *Rule {
	for i := range e.rules {
		if e.rules[i].ID == id {
			return &e.rules[i]
		}
	}
	return nil
}

// Run evaluates the twin's changes and ticks until ctx is done, then
// writes the state once more. The twin never waits for it: it reads a
// subscription, which the twin drops (and Run renews) if it falls behind.
func (e *Engine) Run(ctx context.Context) error {
	siteOnly := twin.Filter{Types: []string{string(twin.KindSite)}}
	subscribe := func() (<-chan twin.Change, func()) {
		ch, unsub := e.cfg.Reader.Subscribe(siteOnly, 0)
		if e.Leading() {
			e.reseed(siteOnly)
		}
		return ch, unsub
	}
	ch, unsub := subscribe()
	defer func() { unsub() }()
	ticker := time.NewTicker(e.cfg.Tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			e.save()
			return nil
		case c, ok := <-ch:
			if !ok {
				e.log.Warn("alarms: the twin dropped the alarms' subscription; renewing it")
				unsub()
				ch, unsub = subscribe()
				continue
			}
			if !e.Leading() {
				continue
			}
			e.change(c, siteOnly)
		drain:
			for range 255 {
				select {
				case c, ok := <-ch:
					if !ok {
						break drain
					}
					e.change(c, siteOnly)
				default:
					break drain
				}
			}
		case <-ticker.C:
			if e.takeReseed() {
				e.reseed(siteOnly)
			}
			if e.Leading() {
				e.tick()
			}
		}
		e.save()
	}
}

// change applies one change of the twin.
func (e *Engine) change(c twin.Change, f twin.Filter) {
	switch {
	case c.Seq == 0:
		e.reseed(f)
	case c.Removed:
		e.removed(c.Entity.ID)
	default:
		e.observe(c.Entity)
	}
}

// reseed evaluates every site as it is now.
func (e *Engine) reseed(f twin.Filter) {
	for _, ent := range e.cfg.Reader.Entities(f) {
		e.observe(ent)
	}
}

// observe evaluates the point rules on a site's snapshot.
func (e *Engine) observe(ent twin.Entity) {
	if ent.Kind != twin.KindSite {
		return
	}
	now := e.cfg.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.leading {
		return // another instance evaluates (see Shared)
	}
	for i := range e.rules {
		r := &e.rules[i]
		if r.Point == "" || (r.Category != "" && r.Category != ent.Category) {
			continue
		}
		k := key{r.ID, ent.ID}
		a, has := ent.Attrs[r.Point]
		tr := e.tracks[k]
		if tr == nil {
			if !has {
				continue
			}
			tr = newTrack(r)
			e.tracks[k] = tr
		}
		tr.info = siteInfo(ent)
		tr.fresh = ent.Freshness == twin.Fresh
		if v, num := twin.ToFloat(a.Value); has && num && a.ObservedAt.After(tr.lastObs) {
			tr.lastObs = a.ObservedAt
			tr.sample(r, a.ObservedAt, v)
		}
		e.evaluate(r, k, tr, now)
	}
}

func newTrack(r *Rule) *track {
	tr := &track{}
	if r.Window > 0 {
		tr.win = newWindow(r.Window)
	}
	return tr
}

// sample records a value read at t.
func (tr *track) sample(r *Rule, t time.Time, v float64) {
	tr.latest, tr.has = v, true
	if tr.win != nil {
		tr.win.add(t, toMean(r.Mean, v))
	}
}

// value is the value compared with the threshold now.
func (tr *track) value(r *Rule, now time.Time) (float64, bool) {
	if tr.win == nil {
		return tr.latest, tr.has
	}
	m, ok := tr.win.mean(now)
	if !ok {
		return 0, false
	}
	v := fromMean(r.Mean, m)
	return v, !math.IsNaN(v) && !math.IsInf(v, 0)
}

func siteInfo(ent twin.Entity) entityInfo {
	info := entityInfo{kind: EntitySite, name: ent.Name, area: ent.Area}
	if ent.Geometry != nil {
		c := ent.Geometry.Bound().Center()
		info.loc = &[2]float64{c[0], c[1]}
	}
	return info
}

// evaluate moves key k's alarm by the rule's value now, under e.mu. A
// value that is missing or not fresh moves nothing and restarts the
// minimum duration: an alarm is neither raised nor cleared on data the
// twin does not trust (the fleet panel reports the staleness).
func (e *Engine) evaluate(r *Rule, k key, tr *track, now time.Time) {
	v, ok := tr.value(r, now)
	if !ok || !tr.fresh {
		tr.since = time.Time{}
		return
	}
	a := e.open[k]
	active := a != nil && a.State.active()
	if a != nil && a.Value != v {
		a.Value = v
		if worse(r, v, a.Peak) {
			a.Peak = v
		}
		e.valueDirty = true
		e.moved[a.ID] = true
	}
	differs := (!active && r.exceeds(v)) || (active && r.normal(v))
	if !differs {
		tr.since = time.Time{}
		return
	}
	if tr.since.IsZero() {
		tr.since = now
	}
	if now.Sub(tr.since) < r.MinDuration {
		return
	}
	tr.since = time.Time{}
	if active {
		e.clear(k, a, now, "")
	} else {
		e.raise(r, k, tr, a, v, now)
	}
}

// worse says whether v is further past the threshold than peak.
func worse(r *Rule, v, peak float64) bool {
	if r.Above {
		return v > peak
	}
	return v < peak
}

// raise raises k's alarm (again, when a is a cleared-unacknowledged one).
func (e *Engine) raise(r *Rule, k key, tr *track, a *Alarm, v float64, now time.Time) {
	if a == nil {
		if len(e.open) >= e.cfg.MaxOpen && !e.evictCleared() {
			e.m.refused.Inc()
			e.log.Warn("alarms: too many open alarms; not raising", "rule", r.ID, "entity", k.entity, "max_open", e.cfg.MaxOpen)
			return
		}
		e.seq++
		a = &Alarm{ID: fmt.Sprintf("al-%d", e.seq), Rule: r.ID, Entity: k.entity, Peak: v}
		e.open[k] = a
		e.byID[a.ID] = a
	}
	a.Severity, a.Label, a.Quantity, a.Unit = r.Severity, r.Label, r.quantity(), r.Unit
	a.Direction, a.Threshold = r.Direction, r.Threshold
	a.Window = ""
	if r.Window > 0 {
		a.Window = r.Window.String()
	}
	a.EntityKind, a.EntityName, a.Area, a.Location = tr.info.kind, tr.info.name, tr.info.area, tr.info.loc
	a.State, a.RaisedAt, a.UpdatedAt = Raised, now, now
	a.ValueAtRaise, a.Value = v, v
	if worse(r, v, a.Peak) {
		a.Peak = v
	}
	a.Raises++
	a.ClearedAt, a.ClearReason = nil, ""
	e.m.raised.WithLabelValues(string(r.Severity)).Inc()
	e.log.Info("alarm raised", "alarm", a.ID, "rule", r.ID, "entity", k.entity, "value", v, "threshold", r.Threshold)
	e.emit(a)
}

// clear moves an active alarm to cleared (unacknowledged) or closed
// (acknowledged), under e.mu.
func (e *Engine) clear(k key, a *Alarm, now time.Time, reason string) {
	t := now
	a.ClearedAt, a.ClearReason, a.UpdatedAt = &t, reason, now
	if a.State == Acknowledged {
		a.State = Closed
		e.close(k, a)
	} else {
		a.State = Cleared
	}
	e.log.Info("alarm cleared", "alarm", a.ID, "rule", a.Rule, "entity", a.Entity, "state", a.State, "reason", reason)
	e.emit(a)
}

// close moves a closed alarm from the open ones to the recent history.
func (e *Engine) close(k key, a *Alarm) {
	delete(e.open, k)
	e.closed = append(e.closed, a)
	e.trimClosed()
}

// evictCleared drops the oldest cleared-unacknowledged alarm to make room.
func (e *Engine) evictCleared() bool {
	var oldest *Alarm
	for _, a := range e.open {
		if a.State == Cleared && (oldest == nil || a.UpdatedAt.Before(oldest.UpdatedAt)) {
			oldest = a
		}
	}
	if oldest == nil {
		return false
	}
	e.log.Warn("alarms: too many open alarms; dropping the oldest cleared one", "alarm", oldest.ID)
	delete(e.open, key{oldest.Rule, oldest.Entity})
	delete(e.byID, oldest.ID)
	e.forget(oldest.ID)
	e.version++
	return true
}

// removed clears the alarms of an entity that left the twin.
func (e *Engine) removed(id string) {
	now := e.cfg.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.leading {
		return
	}
	for k := range e.tracks {
		if k.entity == id {
			delete(e.tracks, k)
		}
	}
	for k, a := range e.open {
		if k.entity == id && a.State.active() {
			e.clear(k, a, now, "entity removed")
		}
	}
}

// tick re-evaluates every track (windows slide, minimum durations pass)
// and the indicator rules.
func (e *Engine) tick() {
	now := e.cfg.Now()
	var inds *twin.Indicators
	for i := range e.rules {
		if e.rules[i].Indicator != "" {
			x := e.cfg.Reader.Indicators()
			inds = &x
			break
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.leading {
		return
	}
	for i := range e.rules {
		r := &e.rules[i]
		if r.Indicator != "" {
			e.indicatorRule(r, inds, now)
		}
	}
	for k, tr := range e.tracks {
		if r := e.rule(k.rule); r != nil && r.Point != "" {
			e.evaluate(r, k, tr, now)
		}
	}
	if e.valueDirty && now.Sub(e.valueSaved) >= valueSaveEvery {
		e.valueDirty, e.valueSaved = false, now
		e.version++
		if e.shared != nil {
			for id := range e.moved {
				e.dirty[id] = true
			}
		}
		clear(e.moved)
	}
}

// indicatorRule samples an indicator rule's value for the city and each
// area, under e.mu; the tracks are evaluated with the others.
func (e *Engine) indicatorRule(r *Rule, inds *twin.Indicators, now time.Time) {
	observe := func(id string, info entityInfo, list []twin.Indicator) {
		k := key{r.ID, id}
		tr := e.tracks[k]
		for _, ind := range list {
			if ind.Name != r.Indicator {
				continue
			}
			if tr == nil {
				if ind.Value == nil {
					return
				}
				tr = newTrack(r)
				e.tracks[k] = tr
			}
			tr.info, tr.fresh = info, ind.Value != nil
			if ind.Value != nil {
				tr.sample(r, now, *ind.Value)
			}
			e.evaluate(r, k, tr, now)
			return
		}
	}
	observe(CityID, entityInfo{kind: EntityCity, name: "city"}, inds.City)
	for _, a := range inds.Areas {
		observe(a.ID, entityInfo{kind: EntityArea, name: a.Name, area: a.ID}, a.Indicators)
	}
}

// Query selects alarms for List.
type Query struct {
	// States keeps alarms in these states (empty: the open ones).
	States []State
	// Since keeps alarms updated at or after it (zero: all).
	Since time.Time
	// Entity keeps one entity's alarms ("" all).
	Entity string
}

// List returns copies of the alarms matching q, latest raise first.
func (e *Engine) List(q Query) []Alarm {
	e.mu.Lock()
	out := make([]Alarm, 0, len(e.open))
	for _, a := range e.byID {
		if len(q.States) == 0 && !a.State.open() || len(q.States) > 0 && !slices.Contains(q.States, a.State) {
			continue
		}
		if a.UpdatedAt.Before(q.Since) || q.Entity != "" && a.Entity != q.Entity {
			continue
		}
		out = append(out, copyAlarm(a))
	}
	e.mu.Unlock()
	slices.SortFunc(out, func(x, y Alarm) int {
		if c := y.RaisedAt.Compare(x.RaisedAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out
}

// Get returns one alarm by ID.
func (e *Engine) Get(id string) (Alarm, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.byID[id]
	if !ok {
		return Alarm{}, false
	}
	return copyAlarm(a), true
}

// Rules returns the rules the engine evaluates.
func (e *Engine) Rules() []Rule { return slices.Clone(e.rules) }

// Ack records an operator's acknowledgement of alarm id: a raised alarm
// becomes acknowledged, a cleared one closed. It returns the alarm after
// the change, once written to the state file; ErrNotFound for an unknown
// ID, ErrConflict (with the alarm) when it was already acknowledged.
func (e *Engine) Ack(id, by, remote, note string) (Alarm, error) {
	now := e.cfg.Now()
	e.mu.Lock()
	if e.shared != nil {
		e.mu.Unlock()
		if !e.Leading() {
			return e.forwardAck(id, by, remote, note)
		}
		return e.ackShared(id, Ack{By: by, Remote: remote, At: now, Note: note})
	}
	a, ok := e.byID[id]
	if !ok {
		e.mu.Unlock()
		return Alarm{}, ErrNotFound
	}
	if a.Acknowledged != nil || a.State == Closed {
		out := copyAlarm(a)
		e.mu.Unlock()
		return out, ErrConflict
	}
	if applyAck(a, Ack{By: by, Remote: remote, At: now, Note: note}) {
		e.close(key{a.Rule, a.Entity}, a)
	}
	e.log.Info("alarm acknowledged", "alarm", a.ID, "rule", a.Rule, "entity", a.Entity, "by", by, "remote", remote, "state", a.State)
	e.emit(a)
	out := copyAlarm(a)
	e.mu.Unlock()
	e.save()
	return out, nil
}

// applyAck records ack on a: a raised alarm becomes acknowledged, a
// cleared one closed (the result says so; the caller moves it to the
// history).
func applyAck(a *Alarm, ack Ack) (closed bool) {
	a.Acknowledged = &ack
	a.UpdatedAt = ack.At
	if a.State == Cleared {
		a.State = Closed
		return true
	}
	a.State = Acknowledged
	return false
}

func copyAlarm(a *Alarm) Alarm {
	c := *a
	if a.Acknowledged != nil {
		x := *a.Acknowledged
		c.Acknowledged = &x
	}
	if a.ClearedAt != nil {
		t := *a.ClearedAt
		c.ClearedAt = &t
	}
	if a.Location != nil {
		l := *a.Location
		c.Location = &l
	}
	return c
}

// subscriber is one stream of alarm events.
type subscriber struct{ ch chan Event }

// Subscribe returns the open alarms and a channel of every later event,
// with no gap between them. A subscriber that falls more than a queue
// behind is dropped (its channel closed): it subscribes again for a fresh
// list. The func unsubscribes; it is safe to call more than once.
func (e *Engine) Subscribe() ([]Alarm, <-chan Event, func()) {
	s := &subscriber{ch: make(chan Event, subscriberQueue)}
	e.mu.Lock()
	e.subs[s] = struct{}{}
	e.mu.Unlock()
	list := e.List(Query{})
	// An event between the List and here is in the channel too: the
	// client applies events by alarm ID, so seeing one twice is harmless.
	return list, s.ch, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if _, ok := e.subs[s]; ok {
			delete(e.subs, s)
			close(s.ch)
		}
	}
}

// emit records a change to write and sends it to the subscribers, under
// e.mu; it never blocks.
func (e *Engine) emit(a *Alarm) {
	e.version++
	if e.shared != nil && e.leading {
		e.dirty[a.ID] = true
	}
	ev := Event{Type: a.State, Alarm: copyAlarm(a)}
	for s := range e.subs {
		select {
		case s.ch <- ev:
		default:
			delete(e.subs, s)
			close(s.ch)
			e.m.dropped.Inc()
		}
	}
	e.updateGauges()
}
