package subs

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin"
)

// TestNotifyForms: a change of a matching entity is POSTed to each
// subscription's endpoint as a Notification (clause 5.3.1), normalized
// with a Link header for application/json, keyValues of only the chosen
// attributes with an @context for application/ld+json.
func TestNotifyForms(t *testing.T) {
	norm, kv := newReceiver(t, nil), newReceiver(t, nil)
	f := newFixture(t, nil, norm, kv)
	idN := f.create(t, "all", subscription(norm, nil))
	idK := f.create(t, "all", subscription(kv, map[string]any{"notification": map[string]any{
		"format": "keyValues", "attributes": []any{"no2"},
		"endpoint": map[string]any{"uri": kv.url + "/notify", "accept": "application/ld+json"}}}))
	ent := f.entityID(t, siteFI)

	f.reading(siteFI, "no2", 41.5)

	n := norm.wait(t, 1)
	if n.body["type"] != "Notification" || n.body["subscriptionId"] != idN || !strings.HasPrefix(n.body["id"].(string), "urn:ngsi-ld:Notification:") {
		t.Errorf("notification %v", n.body)
	}
	if _, err := time.Parse(time.RFC3339, n.body["notifiedAt"].(string)); err != nil {
		t.Errorf("notifiedAt: %v", err)
	}
	if ct := n.header.Get("Content-Type"); ct != "application/json" || !strings.Contains(n.header.Get("Link"), contextURL) {
		t.Errorf("Content-Type %q Link %q", ct, n.header.Get("Link"))
	}
	if _, ok := n.body["@context"]; ok {
		t.Errorf("application/json notification with an @context: %v", n.body)
	}
	d := data(t, n)
	no2, _ := d[0]["no2"].(map[string]any)
	if d[0]["id"] != ent || d[0]["type"] != "AirQualityObserved" || no2["type"] != "Property" || no2["value"] != 41.5 || d[0]["location"] == nil {
		t.Errorf("normalized data %v", d)
	}

	k := kv.wait(t, 1)
	if k.body["subscriptionId"] != idK || k.body["@context"] != contextURL || k.header.Get("Content-Type") != "application/ld+json" {
		t.Errorf("ld+json notification %v %v", k.header, k.body)
	}
	d = data(t, k)
	if len(d[0]) != 3 || d[0]["no2"] != 41.5 || d[0]["id"] != ent {
		t.Errorf("keyValues data with attributes [no2]: %v", d[0])
	}

	// GET shows the delivery status.
	resp, body := f.do(t, "GET", Base+"/"+idN, "all", "")
	testenv.Eventually(t, 10*time.Second, "timesSent 1", func() bool {
		resp, body = f.do(t, "GET", Base+"/"+idN, "all", "")
		return strings.Contains(string(body), `"timesSent":1`)
	})
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"lastSuccess"`) || !strings.Contains(string(body), `"status":"active"`) {
		t.Errorf("GET: %d %s", resp.StatusCode, body)
	}
}

// TestWatchedAttributes: only a changed value of a watched attribute
// notifies; a subscription without watchedAttributes (the barrier) sees
// every change, so once it has queued one the other has had its chance.
func TestWatchedAttributes(t *testing.T) {
	r, all := newReceiver(t, nil), newReceiver(t, nil)
	f := newFixture(t, nil, r, all)
	id := f.create(t, "all", subscription(r, map[string]any{"watchedAttributes": []any{"no2"}}))
	barrier := f.create(t, "all", subscription(all, nil))
	step := func(point string, v float64, want int) {
		t.Helper()
		before := f.enqueued(barrier)
		f.reading(siteFI, point, v)
		testenv.Eventually(t, 10*time.Second, "the barrier's notification", func() bool { return f.enqueued(barrier) > before })
		if got := f.enqueued(id); got != want {
			t.Fatalf("after %s=%v: %d notifications queued, want %d", point, v, got, want)
		}
	}
	step("pm10", 20, 0) // not watched
	step("no2", 30, 1)  // first value
	step("no2", 30, 1)  // same value
	step("pm10", 25, 1) // not watched
	step("no2", 31, 2)  // changed
	if d := data(t, r.wait(t, 2)); d[0]["no2"].(map[string]any)["value"] != 31.0 {
		t.Errorf("second notification %v", d)
	}
}

// TestQAndGeoQ: q and geoQ filter what is notified.
func TestQAndGeoQ(t *testing.T) {
	rq, rg, all := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
	f := newFixture(t, nil, rq, rg, all)
	q := f.create(t, "all", subscription(rq, map[string]any{"q": "no2>40"}))
	g := f.create(t, "all", subscription(rg, map[string]any{"geoQ": map[string]any{
		"georel": "near;maxDistance==2000", "geometry": "Point", "coordinates": []any{16.87, 41.12}}}))
	barrier := f.create(t, "all", subscription(all, nil))
	step := func(s siteT, v float64, wantQ, wantG int) {
		t.Helper()
		before := f.enqueued(barrier)
		f.reading(s.site, "no2", v)
		testenv.Eventually(t, 10*time.Second, "the barrier's notification", func() bool { return f.enqueued(barrier) > before })
		if gq, gg := f.enqueued(q), f.enqueued(g); gq != wantQ || gg != wantG {
			t.Fatalf("after %s no2=%v: q queued %d (want %d), geoQ queued %d (want %d)", s.name, v, gq, wantQ, gg, wantG)
		}
	}
	step(siteT{"Firenze", siteFI}, 30, 0, 0)
	step(siteT{"Firenze", siteFI}, 45, 1, 0)
	step(siteT{"Bari", siteBA}, 20, 1, 1)
	step(siteT{"Bari", siteBA}, 50, 2, 2)
	if d := data(t, rg.wait(t, 1)); d[0]["id"] != f.entityID(t, siteBA) {
		t.Errorf("geoQ notified %v", d[0]["id"])
	}
}

type siteT struct {
	name string
	site twin.Site
}
