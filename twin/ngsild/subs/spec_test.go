package subs

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestOrionLDIssue0241 replays Orion-LD's functional test
// ngsild_issue_0241_notifications (see testdata/README.md): the
// subscription is created with its own id and Location, and a
// notification has exactly the members Orion-LD's sends.
func TestOrionLDIssue0241(t *testing.T) {
	r := newReceiver(t, nil)
	f := newFixture(t, nil, r)
	body, err := os.ReadFile("testdata/spec/orionld-issue-0241-subscription.json")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", f.api+Base, strings.NewReader(strings.ReplaceAll(string(body), "RECEIVER", r.url)))
	req.Header.Set("Content-Type", "application/ld+json")
	req.Header.Set("X-Scope", "all")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") != "/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:01" || resp.ContentLength > 0 {
		t.Fatalf("POST: %s Location %q length %d", resp.Status, resp.Header.Get("Location"), resp.ContentLength)
	}
	// The twin has no Vehicle: watch its air quality instead.
	if resp, rb := f.do(t, "PATCH", Base+"/urn:ngsi-ld:Subscription:01", "all", `{"entities":[{"type":"AirQualityObserved"}]}`); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH: %d %s", resp.StatusCode, rb)
	}
	f.reading(siteBA, "no2", 33)
	n := r.wait(t, 1)
	var members []string
	for k := range n.body {
		members = append(members, k)
	}
	slices.Sort(members)
	if want := []string{"@context", "data", "id", "notifiedAt", "subscriptionId", "type"}; !slices.Equal(members, want) {
		t.Errorf("notification members %v, want %v", members, want)
	}
	if n.header.Get("Content-Type") != "application/ld+json" || n.body["subscriptionId"] != "urn:ngsi-ld:Subscription:01" ||
		n.body["type"] != "Notification" || !strings.HasPrefix(n.body["id"].(string), "urn:ngsi-ld:Notification:") {
		t.Errorf("notification %v %v", n.header, n.body)
	}
	loc, _ := data(t, n)[0]["location"].(map[string]any)
	if v, _ := loc["value"].(map[string]any); loc["type"] != "GeoProperty" || v["type"] != "Point" {
		t.Errorf("location %v", loc)
	}
}

// TestETSISamples: the ETSI test suite's requests Ponte refuses, with a
// problem naming the member it does not implement.
func TestETSISamples(t *testing.T) {
	r := newReceiver(t, nil)
	f := newFixture(t, func(c *Config) { c.AllowedEndpoints = append(c.AllowedEndpoints, "http://my.endpoint.org/") }, r)
	for _, name := range []string{"etsi-subscription-invalid-throttling-timeInterval-sample.jsonld", "etsi-028_01-create-subscription.jsonld"} {
		body, err := os.ReadFile("testdata/spec/" + name)
		if err != nil {
			t.Fatal(err)
		}
		resp, rb := f.do(t, "POST", Base, "all", string(body))
		var p struct{ Type, Detail string }
		_ = json.Unmarshal(rb, &p)
		if resp.StatusCode != http.StatusBadRequest || p.Type != "https://uri.etsi.org/ngsi-ld/errors/BadRequestData" || !strings.HasPrefix(p.Detail, "timeInterval:") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, rb)
		}
	}
}
