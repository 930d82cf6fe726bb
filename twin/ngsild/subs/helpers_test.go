package subs

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// Sites of the tests: an air-quality site in Firenze and one in Bari.
var (
	siteFI = twin.Site{Gateway: "gw-fi", Device: "aq1", Category: "air", Lon: 11.2558, Lat: 43.7731, Interval: time.Minute}
	siteBA = twin.Site{Gateway: "gw-ba", Device: "aq2", Category: "air", Lon: 16.8716, Lat: 41.1177, Interval: time.Minute}
)

const contextURL = "https://ponte.example.org/ngsi-ld/v1/contexts/ponte.jsonld"

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fixture is a real twin, a Manager running over it, and its API served
// with the scope named by the X-Scope header: "all" (AllScope), "none"
// (the zero Scope, which sees nothing; another owner), absent: 401.
type fixture struct {
	tw   *twin.Twin
	m    *Manager
	api  string
	reg  *prometheus.Registry
	dir  string
	seqs map[string]uint64
}

func scopeFromHeader(r *http.Request) (twin.Scope, bool) {
	switch r.Header.Get("X-Scope") {
	case "all":
		return twin.AllScope(), true
	case "none":
		return twin.Scope{}, true
	}
	return twin.Scope{}, false
}

func resolveKey(key string) (twin.Scope, bool) {
	switch key {
	case "*":
		return twin.AllScope(), true
	case "":
		return twin.Scope{}, true
	}
	return twin.Scope{}, false
}

// testConfig is the Config of the tests: fast retries, the receivers
// allowed.
func testConfig(tw twin.Reader, rs ...*receiver) Config {
	cfg := Config{Reader: tw, Scope: scopeFromHeader, ResolveScope: resolveKey, ContextURL: contextURL,
		RetryBase: time.Millisecond, RetryMax: 10 * time.Millisecond, Registerer: prometheus.NewRegistry()}
	for _, r := range rs {
		cfg.AllowedEndpoints = append(cfg.AllowedEndpoints, r.hostport())
	}
	return cfg
}

// newFixture starts a twin with siteFI and siteBA and a running Manager.
func newFixture(t *testing.T, mod func(*Config), rs ...*receiver) *fixture {
	t.Helper()
	tw, err := twin.New(twin.Config{Sites: []twin.Site{siteFI, siteBA}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{tw: tw, seqs: map[string]uint64{}}
	cfg := testConfig(tw, rs...)
	f.reg = cfg.Registerer.(*prometheus.Registry)
	if mod != nil {
		mod(&cfg)
	}
	f.dir = cfg.Dir
	f.m = f.start(t, cfg)
	return f
}

// start makes a Manager of cfg, runs it until the test ends and serves
// its API.
func (f *fixture) start(t *testing.T, cfg Config) *Manager {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	// A fresh twin's stream cannot be resumed from before its first
	// change: readings the test applies must come after Run follows it.
	select {
	case <-m.following:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not follow the twin within 10s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	hs := httptest.NewServer(m.Handler())
	t.Cleanup(hs.Close)
	f.api = hs.URL
	return m
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// entityID returns the twin's ID of the entity of site s.
func (f *fixture) entityID(t *testing.T, s twin.Site) string {
	t.Helper()
	for _, e := range f.tw.Entities(twin.Filter{Types: []string{"AirQualityObserved"}}) {
		if e.Gateway == s.Gateway && e.Device == s.Device {
			return e.ID
		}
	}
	t.Fatalf("no entity for %s/%s", s.Gateway, s.Device)
	return ""
}

// reading applies one reading of point at site s, as ingest does.
func (f *fixture) reading(s twin.Site, point string, v float64) {
	f.seqs[s.Gateway]++
	seq := f.seqs[s.Gateway]
	f.tw.Apply(s.Gateway, 1, &wire.Batch{Gateway: s.Gateway, Epoch: 1, Seqs: []uint64{seq}, Readings: []wire.Reading{
		{Device: s.Device, Point: point, Value: wire.Float(v), Unit: "ug/m3", Time: time.Now().UTC().Truncate(time.Millisecond), Quality: wire.QualityGood}}})
}

// do makes a request to the API as scope ("" for none) and returns the
// answer and its body.
func (f *fixture) do(t *testing.T, method, path, scope, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.api+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if scope != "" {
		req.Header.Set("X-Scope", scope)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// create POSTs a subscription as scope and returns its ID.
func (f *fixture) create(t *testing.T, scope string, body map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, rb := f.do(t, "POST", Base, scope, string(b))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: status %d: %s", resp.StatusCode, rb)
	}
	loc := resp.Header.Get("Location")
	id, ok := strings.CutPrefix(loc, Base+"/")
	if !ok {
		t.Fatalf("Location %q", loc)
	}
	return id
}

// subscription is a subscription body to r for AirQualityObserved.
func subscription(r *receiver, extra map[string]any) map[string]any {
	s := map[string]any{"type": "Subscription", "entities": []any{map[string]any{"type": "AirQualityObserved"}},
		"notification": map[string]any{"endpoint": map[string]any{"uri": r.url + "/notify"}}}
	for k, v := range extra {
		if k == "notification" {
			for nk, nv := range v.(map[string]any) {
				s["notification"].(map[string]any)[nk] = nv
			}
			continue
		}
		s[k] = v
	}
	return s
}

// enqueued is how many notifications id has queued so far.
func (f *fixture) enqueued(id string) int {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if s := f.m.subs[id]; s != nil {
		return s.enqueued
	}
	return -1
}

// queued is a copy of id's queue.
func (f *fixture) queued(id string) []notification {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	return append([]notification(nil), f.m.subs[id].queue...)
}

// dropped reads the dropped counter for reason.
func (f *fixture) dropped(reason string) float64 {
	return testutil.ToFloat64(f.m.met.dropped.WithLabelValues(reason))
}

// receiver is an endpoint a FIWARE dashboard would expose: it records
// the notifications POSTed to it; answer, if set, picks each answer's
// status (n counts from 1).
type receiver struct {
	t      *testing.T
	url    string
	mu     sync.Mutex
	got    []received
	calls  int
	answer func(n int) int
	block  chan struct{} // if not nil, requests wait for it to close
	header http.Header   // added to every answer
}

type received struct {
	header http.Header
	body   map[string]any
}

func newReceiver(t *testing.T, answer func(int) int) *receiver {
	r := &receiver{t: t, answer: answer}
	hs := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(hs.Close)
	r.url = hs.URL
	return r
}

// newDeadReceiver is a receiver that never answers until the test ends.
func newDeadReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, block: make(chan struct{})}
	hs := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { close(r.block) }) // runs before hs.Close
	r.url = hs.URL
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.calls++
	n := r.calls
	r.mu.Unlock()
	if r.block != nil {
		<-r.block
		return
	}
	code := http.StatusOK
	if r.answer != nil {
		code = r.answer(n)
	}
	if code/100 == 2 {
		var body map[string]any
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(&body); err != nil {
			r.t.Errorf("notification %q: %v", b, err)
		}
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), body})
		r.mu.Unlock()
	}
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(code)
}

func (r *receiver) hostport() string {
	return strings.TrimPrefix(r.url, "http://")
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *receiver) callCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// wait waits for the n-th notification (1-based) and returns it.
func (r *receiver) wait(t *testing.T, n int) received {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, "notification "+itoa(n), func() bool { return r.count() >= n })
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[n-1]
}

func itoa(n int) string { return strconv.Itoa(n) }

// data returns the entities of a notification.
func data(t *testing.T, rc received) []map[string]any {
	t.Helper()
	items, _ := rc.body["data"].([]any)
	var out []map[string]any
	for _, it := range items {
		out = append(out, it.(map[string]any))
	}
	if len(out) == 0 {
		t.Fatalf("notification without data: %v", rc.body)
	}
	return out
}
