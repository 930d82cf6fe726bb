package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin/ngsild"
	"github.com/ponte-city/ponte/wire"
)

// subsPath is the NGSI-LD subscriptions' collection.
const subsPath = "/ngsi-ld/v1/subscriptions"

// publicURL is the public_url of the tests' twin.ngsild section.
const publicURL = "http://ponte.test"

// withSubscriptions adds a twin.ngsild section to twoCities' lines:
// subscriptions kept in dir subs, notifications allowed to the host:port
// of each receiver URL.
func withSubscriptions(t testing.TB, extra string, receivers ...string) string {
	t.Helper()
	var allowed []string
	for _, r := range receivers {
		u, err := url.Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		allowed = append(allowed, fmt.Sprintf("%q", u.Host))
	}
	block := "  ngsild:\n    public_url: " + publicURL + "\n    subscriptions:\n      allowed_endpoints: [" + strings.Join(allowed, ", ") + "]\n      dir: subs\n"
	out := strings.Replace(extra, "\ntenants:\n", "\n"+block+"tenants:\n", 1)
	if out == extra {
		t.Fatal("no tenants: line to put twin.ngsild before")
	}
	return out
}

// received is one notification POST a receiver got.
type received struct {
	path, contentType, link string
	body                    map[string]any
	raw                     string
}

// receiver is an NGSI-LD notification endpoint that keeps what it gets.
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []received
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		n := received{path: req.URL.Path, contentType: req.Header.Get("Content-Type"), link: req.Header.Get("Link"), raw: string(b)}
		if err := json.Unmarshal(b, &n.body); err != nil {
			t.Errorf("notification %q is not JSON: %v", b, err)
		}
		r.mu.Lock()
		r.got = append(r.got, n)
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

// at returns the notifications received at path.
func (r *receiver) at(path string) []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []received
	for _, n := range r.got {
		if n.path == path {
			out = append(out, n)
		}
	}
	return out
}

// mentions says whether one of ns names s.
func mentions(ns []received, s string) bool {
	for _, n := range ns {
		if strings.Contains(n.raw, s) {
			return true
		}
	}
	return false
}

// httpDo makes a request to ingest with token (none when empty), a JSON
// body when body is not empty, and extra headers.
func httpDo(t testing.TB, method, url, token, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// streetlightSub is a subscription to every Streetlight, notified to uri.
func streetlightSub(id, uri string) string {
	return fmt.Sprintf(`{"id":%q,"type":"Subscription","entities":[{"type":"Streetlight"}],"notification":{"endpoint":{"uri":%q,"accept":"application/json"}}}`, id, uri)
}

// createSub creates body with token (and extra headers) and fails the
// test unless it is created.
func createSub(t testing.TB, base, token, body string, hdr ...string) {
	t.Helper()
	code, h, resp := httpDo(t, "POST", base+subsPath, token, body, hdr...)
	if code != http.StatusCreated || !strings.HasPrefix(h.Get("Location"), subsPath+"/") {
		t.Fatalf("create: %d %s (Location %q)", code, resp, h.Get("Location"))
	}
}

// TestNGSILDSubscriptions: through the real ingest (embedded broker), a
// Bari operator subscribes to Streetlights; when both gateways publish,
// Bari's receiver gets Bari's change as an NGSI-LD Notification and never
// Firenze's (which the city's subscription does get). Firenze's token
// cannot read, change or delete Bari's subscription, nor list it; a
// stranger gets 401; an endpoint outside allowed_endpoints is refused
// naming the member; and the subscription survives a restart of ingest
// and still delivers.
func TestNGSILDSubscriptions(t *testing.T) {
	testenv.Integration(t, "ingest with its embedded broker")
	dir := t.TempDir()
	recv := newReceiver(t)
	cfg, _ := writeConfig(t, dir, "", withSubscriptions(t, twoCities(t, dir), recv.URL), 2)
	addrs, stop := runUntil(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	base := "http://" + addrs.HTTP
	const fiSite, baSite = "urn:ngsi-ld:Streetlight:fi-duomo-meter", "urn:ngsi-ld:Streetlight:ba-moro-meter"
	const baSub, citySub, delegated = "urn:ngsi-ld:Subscription:bari-lights", "urn:ngsi-ld:Subscription:city-lights", "urn:ngsi-ld:Subscription:city-for-bari"

	createSub(t, base, bariToken, streetlightSub(baSub, recv.URL+"/bari"))
	createSub(t, base, cityToken, streetlightSub(citySub, recv.URL+"/city"))
	// The city's token narrowed to Bari by NGSILD-Tenant: Bari's own.
	createSub(t, base, cityToken, streetlightSub(delegated, recv.URL+"/delegated"), "NGSILD-Tenant", "bari")

	t.Run("stranger", func(t *testing.T) {
		for _, c := range []struct{ method, path, body string }{{"POST", subsPath, streetlightSub("urn:x:s", recv.URL)},
			{"GET", subsPath, ""}, {"GET", subsPath + "/" + baSub, ""}, {"PATCH", subsPath + "/" + baSub, `{"throttling":1}`},
			{"DELETE", subsPath + "/" + baSub, ""}} {
			if code, _, body := httpDo(t, c.method, base+c.path, "", c.body); code != http.StatusUnauthorized {
				t.Errorf("%s %s: %d %s, want 401", c.method, c.path, code, body)
			}
		}
	})
	t.Run("endpoint not allowed", func(t *testing.T) {
		code, _, body := httpDo(t, "POST", base+subsPath, bariToken, streetlightSub("urn:ngsi-ld:Subscription:elsewhere", "http://127.0.0.1:1/notify"))
		if code != http.StatusBadRequest || !strings.Contains(body, "BadRequestData") || !strings.Contains(body, `"detail":"notification.endpoint.uri`) {
			t.Errorf("%d %s, want 400 naming notification.endpoint.uri", code, body)
		}
		if code, _, _ := httpDo(t, "GET", base+subsPath+"/urn:ngsi-ld:Subscription:elsewhere", bariToken, ""); code != http.StatusNotFound {
			t.Errorf("the refused subscription exists: %d", code)
		}
	})
	t.Run("another tenant", func(t *testing.T) {
		for _, c := range []struct{ method, body string }{{"GET", ""}, {"PATCH", `{"throttling":1}`}, {"DELETE", ""}} {
			if code, _, body := httpDo(t, c.method, base+subsPath+"/"+baSub, firenzeToken, c.body); code != http.StatusNotFound || !strings.Contains(body, "ResourceNotFound") {
				t.Errorf("Firenze %s Bari's subscription: %d %s, want 404", c.method, code, body)
			}
		}
		if code, _, body := httpDo(t, "GET", base+subsPath, firenzeToken, ""); code != http.StatusOK || strings.Contains(body, "bari") {
			t.Errorf("Firenze's list: %d %s", code, body)
		}
		code, h, body := httpDo(t, "GET", base+subsPath+"/"+baSub, bariToken, "")
		if code != http.StatusOK || !strings.Contains(body, baSub) || !strings.Contains(h.Get("Link"), publicURL+ngsild.ContextPath) {
			t.Errorf("Bari's subscription (not deleted or changed by Firenze): %d %s, Link %q", code, body, h.Get("Link"))
		}
		if strings.Contains(body, `"throttling"`) {
			t.Errorf("Firenze's PATCH changed it: %s", body)
		}
		if code, _, body := httpDo(t, "GET", base+subsPath, bariToken, ""); code != http.StatusOK || !strings.Contains(body, baSub) || !strings.Contains(body, delegated) || strings.Contains(body, citySub) {
			t.Errorf("Bari's list: %d %s, want its own and the one made for it", code, body)
		}
	})

	// Firenze publishes first, then Bari: a Firenze notification, if any
	// were sent, would come first.
	topics := cfg.Topics()
	seqs := map[string]uint64{}
	now := time.Now().UTC().Truncate(time.Millisecond)
	publish := func(brokerURL, gwID string, watts float64) {
		gw, err := ingesttest.Connect(brokerURL, gwID, gwID, password(gwID))
		if err != nil {
			t.Fatal(err)
		}
		defer gw.Disconnect(50)
		seqs[gwID]++
		data, _ := wire.Encode(nil, &wire.Batch{Gateway: gwID, Epoch: 7, Seqs: []uint64{seqs[gwID]},
			Readings: []wire.Reading{{Device: "meter-1", Point: "total_power", Value: wire.Float(watts), Unit: "W", Time: now.Add(time.Duration(seqs[gwID]) * time.Second)}}})
		if tok := gw.Publish(topics.Up(gwID), 1, false, data); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	publish(addrs.BrokerURL, "gw1", 1200)
	publish(addrs.BrokerURL, "gw2", 1300)
	testenv.Eventually(t, 20*time.Second, "Bari's receiver notified of Bari's Streetlight", func() bool { return mentions(recv.at("/bari"), baSite) })
	testenv.Eventually(t, 20*time.Second, "the city's receiver notified of Firenze's Streetlight", func() bool { return mentions(recv.at("/city"), fiSite) })
	testenv.Eventually(t, 20*time.Second, "the subscription made for Bari notified", func() bool { return mentions(recv.at("/delegated"), baSite) })
	for _, p := range []string{"/bari", "/delegated"} {
		if mentions(recv.at(p), fiSite) {
			t.Fatalf("%s got Firenze's Streetlight: %v", p, recv.at(p))
		}
	}
	n := recv.at("/bari")[0]
	if n.body["type"] != "Notification" || n.body["subscriptionId"] != baSub || n.contentType != "application/json" ||
		!strings.Contains(n.link, publicURL+ngsild.ContextPath) {
		t.Errorf("notification: %s (Content-Type %q, Link %q)", n.raw, n.contentType, n.link)
	}
	if data, _ := n.body["data"].([]any); len(data) == 0 {
		t.Errorf("notification without data: %s", n.raw)
	} else if e, _ := data[0].(map[string]any); e["id"] != baSite || e["type"] != "Streetlight" {
		t.Errorf("notified entity: %v", e)
	}

	// A restart: the subscriptions come back from the dir, with their
	// owners' scopes, and deliver.
	stop()
	before := len(recv.at("/bari"))
	addrs, _ = runUntil(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	base = "http://" + addrs.HTTP
	if code, _, body := httpDo(t, "GET", base+subsPath+"/"+baSub, bariToken, ""); code != http.StatusOK || !strings.Contains(body, recv.URL+"/bari") {
		t.Fatalf("after a restart: %d %s", code, body)
	}
	if code, _, _ := httpDo(t, "GET", base+subsPath+"/"+baSub, firenzeToken, ""); code != http.StatusNotFound {
		t.Errorf("after a restart, Firenze gets Bari's subscription: %d", code)
	}
	publish(addrs.BrokerURL, "gw1", 2200)
	publish(addrs.BrokerURL, "gw2", 2300)
	testenv.Eventually(t, 20*time.Second, "Bari's receiver notified after the restart", func() bool {
		ns := recv.at("/bari")
		return len(ns) > before && mentions(ns[before:], "2300")
	})
	if mentions(recv.at("/bari"), fiSite) {
		t.Fatal("after the restart Bari's receiver got Firenze's Streetlight")
	}
}

// subscriptionRouteScoped is TestTenantsOnEveryRoute's check of one
// NGSI-LD subscriptions route (path names Firenze's subscription fiSub
// where the route has an {id}): Bari's token cannot reach Firenze's
// subscription (404), nor list it; what Bari creates is Bari's, absent
// from Firenze's list; Firenze's token reaches its own.
func subscriptionRouteScoped(t *testing.T, base, method, path, fiSub, notifyURL string) {
	t.Helper()
	if path != subsPath {
		body := ""
		if method == "PATCH" {
			body = `{"throttling":1}`
		}
		// Answered exactly as a subscription that does not exist.
		const missing = "urn:ngsi-ld:Subscription:no-such"
		_, _, want := httpDo(t, method, base+strings.Replace(path, fiSub, missing, 1), bariToken, body)
		if code, _, resp := httpDo(t, method, base+path, bariToken, body); code != http.StatusNotFound || strings.Replace(resp, fiSub, missing, 1) != want {
			t.Errorf("Bari's token %s Firenze's subscription: %d %.300s, want 404 as %.300s", method, code, resp, want)
		}
		// Firenze's subscription is still there, and reachable by
		// Firenze (DELETE is not tried by Firenze: other routes need it).
		if method == "DELETE" {
			method, body = "GET", ""
		}
		if code, _, resp := httpDo(t, method, base+path, firenzeToken, body); code/100 != 2 {
			t.Errorf("Firenze's token %s its subscription: %d %.300s", method, code, resp)
		}
		return
	}
	switch method {
	case "POST":
		id := "urn:ngsi-ld:Subscription:bari-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
		createSub(t, base, bariToken, streetlightSub(id, notifyURL))
		if _, _, resp := httpDo(t, "GET", base+subsPath, firenzeToken, ""); strings.Contains(resp, id) {
			t.Errorf("Firenze lists Bari's new subscription: %.300s", resp)
		}
	case "GET":
		if code, _, resp := httpDo(t, "GET", base+subsPath, bariToken, ""); code != http.StatusOK || strings.Contains(resp, fiSub) {
			t.Errorf("Bari's list: %d %.300s", code, resp)
		}
		if _, _, resp := httpDo(t, "GET", base+subsPath, firenzeToken, ""); !strings.Contains(resp, fiSub) {
			t.Errorf("Firenze's list lacks its subscription (the check could not fail): %.300s", resp)
		}
	default:
		t.Errorf("%s %s: no check for this route", method, path)
	}
}
