package subs

import (
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin"
)

// TestRemovedEntity: an entity leaving the inventory is notified as
// {id, type, deletedAt}.
func TestRemovedEntity(t *testing.T) {
	r := newReceiver(t, nil)
	f := newFixture(t, nil, r)
	f.create(t, "all", subscription(r, nil))
	ent := f.entityID(t, siteFI)
	if err := f.tw.SetGatewaySites(siteFI.Gateway, nil); err != nil {
		t.Fatal(err)
	}
	d := data(t, r.wait(t, 1))
	if len(d[0]) != 3 || d[0]["id"] != ent || d[0]["type"] != "AirQualityObserved" || d[0]["deletedAt"] == nil {
		t.Errorf("removal notified as %v", d)
	}
}

// streamReader is the real twin with a change stream the test writes.
type streamReader struct {
	*twin.Twin
	ch chan twin.Change
}

func (s *streamReader) Subscribe(twin.Filter, uint64) (<-chan twin.Change, func()) {
	return s.ch, func() {}
}

// TestResync: when the twin's stream restarts (Seq 0), a subscription
// with watchedAttributes gets the current state of the entities whose
// watched values it has not been sent, and one without gets them all.
func TestResync(t *testing.T) {
	watched, all := newReceiver(t, nil), newReceiver(t, nil)
	sr := &streamReader{ch: make(chan twin.Change)}
	f := newFixture(t, func(c *Config) {
		sr.Twin = c.Reader.(*twin.Twin)
		c.Reader = sr
	}, watched, all)
	w := f.create(t, "all", subscription(watched, map[string]any{"watchedAttributes": []any{"no2"}}))
	a := f.create(t, "all", subscription(all, nil))
	f.reading(siteFI, "no2", 10) // the stream the Manager reads says nothing of these
	f.reading(siteBA, "no2", 20)

	sr.ch <- twin.Change{}
	d := data(t, watched.wait(t, 1))
	if len(d) != 2 || d[0]["id"] == d[1]["id"] {
		t.Fatalf("resync sent %v, want both entities", d)
	}
	all.wait(t, 1)

	// Nothing changed since: only the subscription without
	// watchedAttributes is sent the state again.
	sr.ch <- twin.Change{}
	testenv.Eventually(t, 10*time.Second, "the second resync", func() bool { return f.enqueued(a) == 2 })
	if n := f.enqueued(w); n != 1 {
		t.Errorf("watched subscription queued %d notifications, want 1", n)
	}
}

// TestPausedAndExpired: a paused subscription (isActive false) and an
// expired one (past expiresAt) say so in GET and are not notified.
func TestPausedAndExpired(t *testing.T) {
	clk := &clock{now: time.Now().UTC()}
	p, e, barrier := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
	f := newFixture(t, func(c *Config) { c.Now = clk.Now }, p, e, barrier)
	paused := f.create(t, "all", subscription(p, nil))
	expiring := f.create(t, "all", subscription(e, map[string]any{"expiresAt": clk.Now().Add(time.Hour).Format(time.RFC3339)}))
	b := f.create(t, "all", subscription(barrier, nil))
	if resp, body := f.do(t, "PATCH", Base+"/"+paused, "all", `{"isActive":false}`); resp.StatusCode != 204 {
		t.Fatalf("PATCH: %d %s", resp.StatusCode, body)
	}
	clk.Add(2 * time.Hour)
	for id, want := range map[string]string{paused: `"status":"paused"`, expiring: `"status":"expired"`, b: `"status":"active"`} {
		if _, body := f.do(t, "GET", Base+"/"+id, "all", ""); !strings.Contains(string(body), want) {
			t.Errorf("GET %s lacks %s: %s", id, want, body)
		}
	}
	f.reading(siteFI, "no2", 5)
	testenv.Eventually(t, 10*time.Second, "the barrier's notification", func() bool { return f.enqueued(b) == 1 })
	if np, ne := f.enqueued(paused), f.enqueued(expiring); np != 0 || ne != 0 {
		t.Errorf("paused queued %d, expired queued %d; want none", np, ne)
	}
	// Resumed, it is notified again.
	if resp, body := f.do(t, "PATCH", Base+"/"+paused, "all", `{"isActive":true}`); resp.StatusCode != 204 {
		t.Fatalf("PATCH: %d %s", resp.StatusCode, body)
	}
	f.reading(siteFI, "no2", 6)
	p.wait(t, 1)
}
