package alarms

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/twin"
)

// memShared is a Shared in memory: a store with revisions that hands
// every change to the followers, and forwards acknowledgements to the
// leader (nil: none reachable). ingest/replica's test runs the same
// exchange on a real NATS cluster.
type memShared struct {
	mu        sync.Mutex
	rev       uint64
	vals      map[string]Alarm
	revs      map[string]uint64
	followers []*Engine
	leader    *Engine
	failPut   bool // every Put fails (the cluster unreachable)
}

func newMemShared() *memShared {
	return &memShared{vals: map[string]Alarm{}, revs: map[string]uint64{}}
}

func (m *memShared) Put(_ context.Context, a Alarm) error {
	m.mu.Lock()
	if m.failPut {
		m.mu.Unlock()
		return errors.New("no NATS node answers (test)")
	}
	m.rev++
	m.vals[a.ID], m.revs[a.ID] = a, m.rev
	rev, fs := m.rev, m.followers
	m.mu.Unlock()
	for _, f := range fs {
		f.Mirror(a, rev)
	}
	return nil
}

func (m *memShared) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	m.rev++
	delete(m.vals, id)
	rev, fs := m.rev, m.followers
	m.mu.Unlock()
	for _, f := range fs {
		f.MirrorDelete(id, rev)
	}
	return nil
}

func (m *memShared) ForwardAck(_ context.Context, id, by, remote, note string) (Alarm, uint64, error) {
	m.mu.Lock()
	l := m.leader
	m.mu.Unlock()
	if l == nil {
		return Alarm{}, 0, ErrUnavailable
	}
	a, err := l.Ack(id, by, remote, note)
	m.mu.Lock()
	defer m.mu.Unlock()
	return a, m.revs[id], err
}

func (m *memShared) list() []Alarm {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Alarm
	for _, a := range m.vals {
		out = append(out, a)
	}
	return out
}

// lead makes e the leader and the others followers.
func (m *memShared) lead(e *Engine, others ...*Engine) {
	for _, o := range others {
		o.Follow()
	}
	m.mu.Lock()
	m.leader, m.followers = e, others
	m.mu.Unlock()
	e.Lead(m.list())
}

func newSharedEngine(t *testing.T, c *clock, s Shared, maxClosed int) *Engine {
	t.Helper()
	rules, ok := Rules([]RuleSpec{pm10Rule(0, 0, 0)}, false, "rules", func(p, f string, a ...any) { t.Errorf("rule %s: "+f, append([]any{p}, a...)...) })
	if !ok {
		t.FailNow()
	}
	e, err := New(Config{Reader: &fakeReader{}, Rules: rules, Shared: s, MaxClosed: maxClosed, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestSharedLeaderAndFollower: the leader's alarms reach the follower with
// the same IDs; an acknowledgement on the follower is the leader's; the
// lead moves and the new leader carries on the same alarms with new IDs
// after the old ones; an older revision does not undo a newer one; a
// follower without a reachable leader answers 503.
func TestSharedLeaderAndFollower(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	s := newMemShared()
	a, b := newSharedEngine(t, c, s, 1), newSharedEngine(t, c, s, 1)
	if a.Leading() || b.Leading() {
		t.Fatal("an engine with Shared leads before Lead")
	}
	s.lead(a, b)
	if !a.Leading() || b.Leading() {
		t.Fatal("Lead/Follow did not move the lead")
	}

	// A follower evaluates nothing: its Run drops the changes.
	a.observe(reading(70, c.Now(), twin.Fresh))
	a.save()
	first := only(t, a)
	if got := only(t, b); !reflect.DeepEqual(got, first) {
		t.Fatalf("follower has %+v, leader %+v", got, first)
	}
	_, events, unsub := b.Subscribe()
	defer unsub()

	acked, err := b.Ack(first.ID, "Giulia Bianchi", "192.0.2.9:1", "")
	if err != nil || acked.State != Acknowledged || acked.Acknowledged.By != "Giulia Bianchi" {
		t.Fatalf("ack through the follower: %+v, %v", acked, err)
	}
	if got := only(t, a); got.State != Acknowledged {
		t.Fatalf("the leader did not take the follower's acknowledgement: %+v", got)
	}
	if ev := <-events; ev.Alarm.ID != first.ID || ev.Type != Acknowledged {
		t.Fatalf("the follower's stream: %+v", ev)
	}
	if _, err := b.Ack(first.ID, "x", "", ""); err != ErrConflict {
		t.Fatalf("second ack through the follower: %v, want ErrConflict", err)
	}

	// An older revision of the alarm arriving late changes nothing.
	stale := first
	b.Mirror(stale, 1)
	if got, _ := b.Get(first.ID); got.State != Acknowledged {
		t.Fatalf("an older revision undid the acknowledgement: %+v", got)
	}

	// The lead moves to b: it clears the acknowledged alarm (closed),
	// raises a new one after it, and a drops the closed one trimmed from
	// the history (MaxClosed 1) as b deletes it.
	s.lead(b, a)
	if !b.takeReseed() {
		t.Fatal("the new leader was not told to evaluate every site again")
	}
	b.observe(reading(40, c.add(time.Minute), twin.Fresh))
	b.save()
	if got, _ := a.Get(first.ID); got.State != Closed {
		t.Fatalf("the old leader, now following: %+v", got)
	}
	b.observe(reading(90, c.add(time.Minute), twin.Fresh))
	b.observe(reading(30, c.add(time.Minute), twin.Fresh))
	b.save()
	second := b.List(Query{})
	if len(second) != 1 || second[0].State != Cleared {
		t.Fatalf("the new leader's alarms: %+v", second)
	}
	n1, _ := alarmNumber(first.ID)
	n2, _ := alarmNumber(second[0].ID)
	if n2 <= n1 {
		t.Fatalf("the new leader numbered %s after %s", second[0].ID, first.ID)
	}
	if _, err := b.Ack(second[0].ID, "Giulia Bianchi", "", ""); err != nil {
		t.Fatal(err)
	}
	if got, ok := a.Get(first.ID); ok {
		t.Fatalf("the follower kept %s, trimmed from the leader's history: %+v", first.ID, got)
	}
	if !reflect.DeepEqual(a.List(Query{States: states}), b.List(Query{States: states})) {
		t.Fatalf("follower %+v, leader %+v", a.List(Query{States: states}), b.List(Query{States: states}))
	}

	// No leader reachable: the follower's acknowledgement is refused, to
	// be tried again.
	s.mu.Lock()
	s.leader = nil
	s.mu.Unlock()
	b.observe(reading(95, c.add(time.Minute), twin.Fresh))
	b.save()
	third := b.List(Query{})
	if len(third) != 1 {
		t.Fatalf("%+v", third)
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/alarms/"+third[0].ID+"/ack", strings.NewReader(`{"operator":"Giulia Bianchi"}`)))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("ack without a leader: %d %s (Retry-After %q)", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
}

// TestSharedRefusesStateFile: one store at a time.
func TestSharedRefusesStateFile(t *testing.T) {
	err := Config{Reader: &fakeReader{}, StateFile: "x.json", Shared: newMemShared()}.Validate()
	if err == nil || !strings.Contains(err.Error(), "one store only") {
		t.Fatalf("got %v", err)
	}
}

// TestSharedAckNotStored: an acknowledgement the leader cannot store is
// refused (503 to the operator, who tries again), and the alarm stays
// unacknowledged on the leader: a failover would otherwise forget what
// the operator was told had happened.
func TestSharedAckNotStored(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	s := newMemShared()
	a := newSharedEngine(t, c, s, 10)
	s.lead(a)
	a.observe(reading(70, c.Now(), twin.Fresh))
	a.save()
	al := only(t, a)
	s.mu.Lock()
	s.failPut = true
	s.mu.Unlock()
	if _, err := a.Ack(al.ID, "Giulia Bianchi", "", ""); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ack not stored: %v, want ErrUnavailable", err)
	}
	if got := only(t, a); got.Acknowledged != nil || got.State != Raised {
		t.Fatalf("after a refused ack: %+v", got)
	}
	s.mu.Lock()
	s.failPut = false
	s.mu.Unlock()
	if got, err := a.Ack(al.ID, "Giulia Bianchi", "", ""); err != nil || got.State != Acknowledged {
		t.Fatalf("ack once stored: %+v, %v", got, err)
	}
	if v := s.list(); len(v) != 1 || v[0].Acknowledged == nil {
		t.Fatalf("the store holds %+v", v)
	}
}

// TestSharedResyncAndRevisions: a former leader takes the store's alarms
// back (what it held in memory only is gone, its streams are closed), a
// deleted alarm's revision is forgotten, and a late answer about it does
// not bring it back.
func TestSharedResyncAndRevisions(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	s := newMemShared()
	a := newSharedEngine(t, c, s, 10)
	s.lead(a)
	a.observe(reading(70, c.Now(), twin.Fresh)) // raised in memory, never stored
	_, events, _ := a.Subscribe()
	a.Follow()
	stored := Alarm{ID: "al-5", Rule: "pm10", Entity: station, State: Raised, Severity: Major, UpdatedAt: c.Now()}
	a.Resync([]Alarm{stored}, map[string]uint64{"al-5": 7}, 3)
	if got := a.List(Query{States: states}); len(got) != 1 || got[0].ID != "al-5" {
		t.Fatalf("after Resync: %+v", got)
	}
	if _, open := <-events; open {
		t.Fatal("a stream of the former leader was left open after Resync")
	}
	a.MirrorDelete("al-5", 9)
	if _, ok := a.revs["al-5"]; ok {
		t.Error("the deleted alarm's revision is still kept")
	}
	a.Mirror(stored, 8) // an answer that overtook the deletion
	if _, ok := a.Get("al-5"); ok {
		t.Error("a late answer brought a deleted alarm back")
	}
	stored.ID = "al-6"
	a.Mirror(stored, 10)
	if _, ok := a.Get("al-6"); !ok {
		t.Error("a new alarm after the deletion was not applied")
	}
}
