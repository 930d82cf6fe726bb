package subs

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ponte-city/ponte/internal/testenv"
)

// TestOwnership: a subscription is its scope's: another scope gets 404
// on every route and does not list it; no scope at all gets 401.
func TestOwnership(t *testing.T) {
	r := newReceiver(t, nil)
	f := newFixture(t, nil, r)
	id := f.create(t, "all", subscription(r, map[string]any{"description": "Firenze dashboard"}))

	for _, c := range []struct{ method, body string }{{"GET", ""}, {"PATCH", `{"throttling":5}`}, {"DELETE", ""}} {
		resp, body := f.do(t, c.method, Base+"/"+id, "none", c.body)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "ResourceNotFound") {
			t.Errorf("stranger %s: %d %s", c.method, resp.StatusCode, body)
		}
	}
	resp, body := f.do(t, "GET", Base+"?count=true", "none", "")
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "[]" || resp.Header.Get("NGSILD-Results-Count") != "0" {
		t.Errorf("stranger's list: %d %s count %q", resp.StatusCode, body, resp.Header.Get("NGSILD-Results-Count"))
	}
	resp, body = f.do(t, "GET", Base+"?count=true", "all", "")
	var list []map[string]any
	if err := json.Unmarshal(body, &list); err != nil || len(list) != 1 || list[0]["id"] != id || resp.Header.Get("NGSILD-Results-Count") != "1" {
		t.Errorf("owner's list: %d %s", resp.StatusCode, body)
	}
	for _, c := range []struct{ method, path string }{{"GET", Base}, {"POST", Base}, {"GET", Base + "/" + id}, {"DELETE", Base + "/" + id}} {
		if resp, _ := f.do(t, c.method, c.path, "", ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("no scope %s %s: %d", c.method, c.path, resp.StatusCode)
		}
	}
	// The owner patches and deletes it.
	if resp, body := f.do(t, "PATCH", Base+"/"+id, "all", `{"throttling":5,"notification":{"format":"keyValues"}}`); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH: %d %s", resp.StatusCode, body)
	}
	_, body = f.do(t, "GET", Base+"/"+id, "all", "")
	var got map[string]any
	_ = json.Unmarshal(body, &got)
	n, _ := got["notification"].(map[string]any)
	ep, _ := n["endpoint"].(map[string]any)
	if got["throttling"] != 5.0 || n["format"] != "keyValues" || ep["uri"] != r.url+"/notify" || got["description"] != "Firenze dashboard" {
		t.Errorf("after PATCH: %s", body)
	}
	if resp, _ := f.do(t, "DELETE", Base+"/"+id, "all", ""); resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE: %d", resp.StatusCode)
	}
	if resp, _ := f.do(t, "GET", Base+"/"+id, "all", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET after DELETE: %d", resp.StatusCode)
	}
}

// TestScopeVisibility: a subscription whose scope cannot see an entity
// is never notified about it, while one that can is.
func TestScopeVisibility(t *testing.T) {
	blind, sees := newReceiver(t, nil), newReceiver(t, nil)
	f := newFixture(t, nil, blind, sees)
	b := f.create(t, "none", subscription(blind, nil))
	s := f.create(t, "all", subscription(sees, nil))
	for v := 1; v <= 3; v++ {
		f.reading(siteFI, "no2", float64(v))
		f.reading(siteBA, "no2", float64(v))
	}
	testenv.Eventually(t, 10*time.Second, "the seeing scope's 6 notifications", func() bool { return f.enqueued(s) == 6 })
	if n := f.enqueued(b); n != 0 {
		t.Errorf("the blind scope was queued %d notifications", n)
	}
}

// TestLimits: the limits answer 4xx naming what was exceeded.
func TestLimits(t *testing.T) {
	r := newReceiver(t, nil)
	f := newFixture(t, func(c *Config) { c.MaxSubscriptions, c.MaxPerScope, c.MaxBodyBytes = 3, 2, 2048 }, r)
	body := func(extra map[string]any) string {
		b, _ := json.Marshal(subscription(r, extra))
		return string(b)
	}
	f.create(t, "all", subscription(r, nil))
	f.create(t, "all", subscription(r, nil))
	resp, rb := f.do(t, "POST", Base, "all", body(nil))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(rb), "MaxPerScope") || !strings.Contains(string(rb), "the platform's scope") {
		t.Errorf("third of a scope: %d %s", resp.StatusCode, rb)
	}
	f.create(t, "none", subscription(r, nil))
	resp, rb = f.do(t, "POST", Base, "none", body(nil))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(rb), "MaxSubscriptions") {
		t.Errorf("fourth in all: %d %s", resp.StatusCode, rb)
	}
	resp, rb = f.do(t, "POST", Base, "all", body(map[string]any{"description": strings.Repeat("x", 4000)}))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("large body: %d %s", resp.StatusCode, rb)
	}
	req, _ := http.NewRequest("POST", f.api+Base, strings.NewReader(body(nil)))
	req.Header.Set("X-Scope", "all")
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %v %v", resp, err)
	}
}

// TestConflict: an id given twice answers 409.
func TestConflict(t *testing.T) {
	r := newReceiver(t, nil)
	f := newFixture(t, nil, r)
	f.create(t, "all", subscription(r, map[string]any{"id": "urn:ngsi-ld:Subscription:dash"}))
	b, _ := json.Marshal(subscription(r, map[string]any{"id": "urn:ngsi-ld:Subscription:dash"}))
	if resp, rb := f.do(t, "POST", Base, "all", string(b)); resp.StatusCode != http.StatusConflict {
		t.Errorf("second POST: %d %s", resp.StatusCode, rb)
	}
}

// TestBadBodies runs the cases of testdata/bad: each folder holds a
// body.json POSTed by the owner, and expected.err whose first line is
// the status and second a part of the ProblemDetails' detail. The
// receiver's URL replaces RECEIVER.
func TestBadBodies(t *testing.T) {
	r := newReceiver(t, nil)
	f := newFixture(t, nil, r)
	dirs, err := filepath.Glob("testdata/bad/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(dir, "body.json"))
			if err != nil {
				t.Fatal(err)
			}
			exp, err := os.ReadFile(filepath.Join(dir, "expected.err"))
			if err != nil {
				t.Fatal(err)
			}
			status, detail, _ := strings.Cut(strings.TrimSpace(string(exp)), "\n")
			resp, rb := f.do(t, "POST", Base, "all", strings.ReplaceAll(string(body), "RECEIVER", r.url))
			var p struct{ Type, Detail string }
			_ = json.Unmarshal(rb, &p)
			if got := resp.Status[:3]; got != status || !strings.Contains(p.Detail, detail) {
				t.Errorf("got %s %s, want %s with detail containing %q", resp.Status, rb, status, detail)
			}
		})
	}
}

// TestPersistence: the subscriptions survive a restart (a new Manager on
// the same Dir), with their owner; a broken file is an error naming it.
func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	r := newReceiver(t, nil)
	f := newFixture(t, func(c *Config) { c.Dir = dir }, r)
	id := f.create(t, "all", subscription(r, map[string]any{"q": "no2>40", "watchedAttributes": []any{"no2"}}))
	f.create(t, "none", subscription(r, nil))

	cfg := testConfig(f.tw, r)
	cfg.Dir = dir
	g := &fixture{tw: f.tw, seqs: f.seqs}
	g.m = g.start(t, cfg)
	resp, body := g.do(t, "GET", Base+"/"+id, "all", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"q":"no2>40"`) {
		t.Fatalf("after restart: %d %s", resp.StatusCode, body)
	}
	if resp, _ := g.do(t, "GET", Base+"/"+id, "none", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("after restart another scope sees it: %d", resp.StatusCode)
	}
	// and it notifies.
	g.reading(siteFI, "no2", 50)
	if d := data(t, r.wait(t, 1)); d[0]["no2"].(map[string]any)["value"] != 50.0 {
		t.Errorf("notification after restart %v", d)
	}

	file := filepath.Join(dir, "subscriptions.json")
	for _, c := range []struct{ content, want string }{
		{"{", "invalid JSON"},
		{`{"version":2,"subscriptions":[]}`, "version 2"},
		{`{"version":1,"subscriptions":[{"scope":"*","definition":{"id":"urn:x:1","type":"Sub"}}]}`, `subscription 0: type: must be "Subscription"`},
	} {
		if err := os.WriteFile(file, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(f.tw, r)
		cfg.Dir = dir
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("file %s: error %v, want one naming the file and %q", c.content, err, c.want)
		}
	}
}

// TestListPaging: limit and offset page the caller's subscriptions in
// creation order; bad values are 400 naming the parameter.
func TestListPaging(t *testing.T) {
	r := newReceiver(t, nil)
	f := newFixture(t, nil, r)
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, f.create(t, "all", subscription(r, map[string]any{"id": "urn:ngsi-ld:Subscription:" + string(rune('a'+i))})))
	}
	_, body := f.do(t, "GET", Base+"?limit=1&offset=1", "all", "")
	var list []map[string]any
	if err := json.Unmarshal(body, &list); err != nil || len(list) != 1 || list[0]["id"] != ids[1] {
		t.Errorf("limit=1&offset=1: %s", body)
	}
	for q, want := range map[string]string{"limit=1001": "limit: an integer 0..1000", "offset=-1": "offset: an integer >= 0"} {
		resp, body := f.do(t, "GET", Base+"?"+q, "all", "")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %s", q, resp.StatusCode, body)
		}
	}
}

// TestEndpointNoLongerAllowed: a subscription loaded from Dir whose
// endpoint AllowedEndpoints no longer lists loads, but its
// notifications are refused and counted, not POSTed.
func TestEndpointNoLongerAllowed(t *testing.T) {
	dir := t.TempDir()
	r := newReceiver(t, nil)
	f := newFixture(t, func(c *Config) { c.Dir = dir }, r)
	f.create(t, "all", subscription(r, nil))

	cfg := testConfig(f.tw) // no receiver allowed
	cfg.Dir = dir
	g := &fixture{tw: f.tw, seqs: f.seqs}
	g.m = g.start(t, cfg)
	if resp, body := g.do(t, "GET", Base, "all", ""); !strings.Contains(string(body), r.url) {
		t.Fatalf("after restart: %d %s", resp.StatusCode, body)
	}
	// The first Manager, still running, POSTs it; g refuses it.
	g.reading(siteFI, "no2", 50)
	testenv.Eventually(t, 10*time.Second, "the refused notification", func() bool { return g.dropped(dropRefused) == 1 })
	if got := testutil.ToFloat64(g.m.met.failed.WithLabelValues(failRefused)); got != 1 {
		t.Errorf("failures{refused} = %v, want 1 (no retry)", got)
	}
}
