package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"

	"github.com/ponte-city/ponte/twin"
)

// withName returns e renamed, to make distinguishable changes.
func withName(e twin.Entity, name string) twin.Entity {
	e.Name = name
	return e
}

func TestStreamOrderAndFilter(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	srv, _ := newTestServer(t, fake, nil)
	c := openStream(t, srv.URL+"/api/v1/stream?type=AirQualityObserved", nil)
	for k, v := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := c.resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	testenv.Eventually(t, 10*time.Second, "the subscription", func() bool { return fake.active() == 1 })
	var want []uint64
	for i := range 20 {
		e := siteAir
		if i%2 == 1 {
			e = siteTraffic // filtered out
		}
		seq := fake.emit(withName(e, "n"+strconv.Itoa(i)))
		if i%2 == 0 {
			want = append(want, seq)
		}
	}
	for i, seq := range want {
		ev := c.next(t, isEvent("entity"))
		if ev.ID != strconv.FormatUint(seq, 10) {
			t.Fatalf("event %d: id %q, want %d", i, ev.ID, seq)
		}
		var f testFeature
		if err := json.Unmarshal([]byte(ev.Data), &f); err != nil {
			t.Fatalf("event %d data %q: %v", i, ev.Data, err)
		}
		if f.ID != siteAir.ID || f.Properties["name"] != "n"+strconv.Itoa(2*i) {
			t.Errorf("event %d: %s", i, ev.Data)
		}
	}
}

func TestStreamBBoxFilter(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	srv, _ := newTestServer(t, fake, nil)
	c := openStream(t, srv.URL+"/api/v1/stream?bbox=16.8,41.1,16.9,41.13", map[string]string{"Authorization": "Bearer " + testToken})
	testenv.Eventually(t, 10*time.Second, "the subscription", func() bool { return fake.active() == 1 })
	fake.emit(siteAir)
	seq := fake.emit(siteBA)
	ev := c.next(t, isEvent("entity"))
	if ev.ID != strconv.FormatUint(seq, 10) {
		t.Errorf("first event id %s, want %d (the Bari site; Florence's is outside the bbox)", ev.ID, seq)
	}
}

func TestStreamResume(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	srv, _ := newTestServer(t, fake, nil)
	var seqs []uint64
	for i := range 10 {
		seqs = append(seqs, fake.emit(withName(siteAir, "r"+strconv.Itoa(i))))
	}
	cases := []struct {
		name string
		url  string
		hdr  map[string]string
	}{
		{"header", "/api/v1/stream", map[string]string{"Last-Event-ID": strconv.FormatUint(seqs[6], 10)}},
		{"query", "/api/v1/stream?lastEventId=" + strconv.FormatUint(seqs[6], 10), nil},
		{"header wins", "/api/v1/stream?lastEventId=1", map[string]string{"Last-Event-ID": strconv.FormatUint(seqs[6], 10)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			last := fake.LastSeq() // earlier subtests added live changes
			c := openStream(t, srv.URL+tc.url, tc.hdr)
			for s := seqs[6] + 1; s <= last; s++ {
				if ev := c.next(t, isEvent("entity")); ev.ID != strconv.FormatUint(s, 10) {
					t.Fatalf("id %s, want %d", ev.ID, s)
				}
			}
			// Nothing but the later live change follows.
			live := fake.emit(withName(siteAir, "live-"+tc.name))
			if ev := c.next(t, isEvent("entity")); ev.ID != strconv.FormatUint(live, 10) {
				t.Fatalf("after replay: id %s, want the live %d", ev.ID, live)
			}
		})
	}
}

func TestStreamResync(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	fake.keep = 5
	srv, _ := newTestServer(t, fake, nil)
	for i := range 20 {
		fake.emit(withName(siteAir, "x"+strconv.Itoa(i)))
	}
	c := openStream(t, srv.URL+"/api/v1/stream", map[string]string{"Last-Event-ID": "3"})
	ev := c.next(t, func(ev sseEvent) bool { return ev.Event == "resync" || ev.Event == "entity" })
	if ev.Event != "resync" || ev.Data != "{}" || ev.ID != "20" { // the resync carries the last ID, to resume from
		t.Fatalf("first event %+v, want resync with {} and id 20", ev)
	}
	if ev := c.next(t, isEvent("entity")); ev.ID != "16" {
		t.Errorf("after resync: id %s, want 16 (oldest retained)", ev.ID)
	}
}

func TestStreamHeartbeatAndIndicators(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	fake.setIndicators(fixtureIndicators())
	srv, _ := newTestServer(t, fake, func(c *Config) {
		c.Heartbeat = 20 * time.Millisecond
		c.IndicatorInterval = 20 * time.Millisecond
	})
	c := openStream(t, srv.URL+"/api/v1/stream", nil)
	first := c.next(t, isEvent("indicators"))
	var ind twin.Indicators
	if err := json.Unmarshal([]byte(first.Data), &ind); err != nil || len(ind.Areas) != 2 || first.ID != "" {
		t.Fatalf("indicators event %+v: %v", first, err)
	}
	c.next(t, func(ev sseEvent) bool { return ev.Comment == "ping" })
	c.next(t, func(ev sseEvent) bool { return ev.Comment == "ping" })
	changed := fixtureIndicators()
	changed.City[0].Value = ptr(999)
	fake.setIndicators(changed)
	ev := c.next(t, isEvent("indicators"))
	if err := json.Unmarshal([]byte(ev.Data), &ind); err != nil || *ind.City[0].Value != 999 {
		t.Fatalf("changed indicators %+v: %v", ev, err)
	}
	// The first event had every indicator's unit, window and
	// definition; the later one has the values only, the same ones.
	for _, i := range fixtureIndicators().City {
		if i.Definition == "" || !strings.Contains(first.Data, i.Definition) {
			t.Fatalf("first indicators event without %s's definition %q", i.Name, i.Definition)
		}
	}
	var keys []map[string]any
	var later struct {
		City  []map[string]any `json:"city"`
		Areas []struct {
			ID         string           `json:"id"`
			Indicators []map[string]any `json:"indicators"`
		} `json:"areas"`
	}
	if err := json.Unmarshal([]byte(ev.Data), &later); err != nil {
		t.Fatal(err)
	}
	keys = append(keys, later.City...)
	for _, a := range later.Areas {
		keys = append(keys, a.Indicators...)
	}
	for _, k := range keys {
		for _, gone := range []string{"unit", "window", "definition"} {
			if _, ok := k[gone]; ok {
				t.Errorf("later indicators event: %s has %q, want the values only", k["name"], gone)
			}
		}
	}
	want := sanitized(changed)
	if len(ind.City) != len(want.City) || len(ind.Areas) != len(want.Areas) || ind.Areas[1].ID != want.Areas[1].ID ||
		len(ind.Areas[1].Indicators) != len(want.Areas[1].Indicators) || ind.Areas[1].Indicators[0].Sensors != want.Areas[1].Indicators[0].Sensors {
		t.Errorf("later indicators event %+v, want the values of %+v", ind, want)
	}
}

func TestStreamUnchangedIndicatorsNotRepeated(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	fake.setIndicators(fixtureIndicators())
	srv, _ := newTestServer(t, fake, func(c *Config) {
		c.Heartbeat = 200 * time.Millisecond
		c.IndicatorInterval = 10 * time.Millisecond
	})
	c := openStream(t, srv.URL+"/api/v1/stream", nil)
	c.next(t, isEvent("indicators"))
	// Until the fifth heartbeat (>= 50 indicator checks) no other
	// indicators event may come.
	for range 5 {
		ev := c.next(t, func(ev sseEvent) bool { return ev.Comment == "ping" || ev.Event == "indicators" })
		if ev.Event == "indicators" {
			t.Fatal("unchanged indicators sent again")
		}
	}
}

func TestStreamDisconnectUnsubscribes(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	srv, a := newTestServer(t, fake, nil)
	var clients []*sseClient
	for range 3 {
		clients = append(clients, openStream(t, srv.URL+"/api/v1/stream", nil))
	}
	testenv.Eventually(t, 10*time.Second, "3 subscriptions", func() bool { return fake.active() == 3 })
	clients[0].close()
	clients[1].close()
	testenv.Eventually(t, 10*time.Second, "2 unsubscriptions", func() bool { return fake.active() == 1 && a.streams.Load() == 1 })
	seq := fake.emit(siteAir)
	if ev := clients[2].next(t, isEvent("entity")); ev.ID != strconv.FormatUint(seq, 10) {
		t.Errorf("remaining client got %s", ev.ID)
	}
}

func TestStreamDroppedByTwin(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	fake.buf = 2
	srv, a := newTestServer(t, fake, nil)
	c := openStream(t, srv.URL+"/api/v1/stream", nil)
	testenv.Eventually(t, 10*time.Second, "the subscription", func() bool { return fake.active() == 1 })
	fake.mu.Lock() // hold the twin so the channel fills before the stream drains it
	for _, s := range fake.subs {
		close(s.ch)
	}
	clear(fake.subs)
	fake.mu.Unlock()
	testenv.Eventually(t, 10*time.Second, "the stream to end", func() bool { return a.streams.Load() == 0 })
	for range c.events {
	}
}

func TestStreamLimit(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	srv, _ := newTestServer(t, fake, func(c *Config) { c.MaxStreams = 2 })
	openStream(t, srv.URL+"/api/v1/stream", nil)
	c2 := openStream(t, srv.URL+"/api/v1/stream", nil)
	resp, body := get(t, srv.URL+"/api/v1/stream", testToken, nil)
	wantError(t, resp, body, http.StatusServiceUnavailable, "", "too many streams")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	c2.close()
	testenv.Eventually(t, 10*time.Second, "a free stream slot", func() bool { return fake.active() == 1 })
	openStream(t, srv.URL+"/api/v1/stream", nil)
}

func TestStreamResyncAfterRestart(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	srv, _ := newTestServer(t, fake, nil)
	fake.emit(withName(siteAir, "a"))
	fake.emit(withName(siteAir, "b"))
	// The client saw event 5000 of an earlier run of ingest.
	c := openStream(t, srv.URL+"/api/v1/stream", map[string]string{"Last-Event-ID": "5000"})
	ev := c.next(t, func(ev sseEvent) bool { return ev.Event == "resync" || ev.Event == "entity" })
	if ev.Event != "resync" {
		t.Fatalf("first event %+v, want resync", ev)
	}
	seq := fake.emit(withName(siteAir, "c"))
	if ev := c.next(t, isEvent("entity")); ev.ID != strconv.FormatUint(seq, 10) {
		t.Errorf("after resync: id %s, want %d", ev.ID, seq)
	}
}
