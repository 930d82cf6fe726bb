package command

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/twin"
)

// serve calls the handler as operator op, in all scope or none.
func serve(t *testing.T, h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHTTP(t *testing.T) {
	f := newFixture(t)
	scope := allScope()
	op := opA
	h := f.s.handler(func(*http.Request) twin.Scope { return scope }, func(*http.Request) string { return op })

	w := serve(t, h, "POST", "/api/v1/commands", `{"entity":"`+entFi+`","point":"line_level","value":120,"reason":"r","operator":"Maria Rossi"}`)
	var e apiError
	if w.Code != 400 || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Parameter != "value" || e.Error != "value 120 is above the maximum 100 %" {
		t.Fatalf("out of range: %d %s", w.Code, w.Body)
	}
	if w := serve(t, h, "POST", "/api/v1/commands", `{"entity":"`+strings.Repeat("x", 5000)+`"}`); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("body past 4 KiB: %d", w.Code)
	}
	if w := serve(t, h, "POST", "/api/v1/commands", `{"entity":"e","bogus":1}`); w.Code != 400 {
		t.Fatalf("unknown field: %d", w.Code)
	}
	var id string
	for i := range 4 {
		w := serve(t, h, "POST", "/api/v1/commands", `{"entity":"`+entFi+`","point":"line_level","value":40,"reason":"lavori","operator":"Maria Rossi","expires_in":"2m"}`)
		if i < 3 {
			var c Command
			if w.Code != http.StatusAccepted || json.Unmarshal(w.Body.Bytes(), &c) != nil || c.State != Queued || c.Operator.ID != opA || c.Expires.Sub(c.Created).Minutes() != 2 {
				t.Fatalf("issue %d: %d %s", i, w.Code, w.Body)
			}
			id = c.ID
			continue
		}
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
			t.Fatalf("fourth to one device: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
		}
	}
	if w := serve(t, h, "GET", "/api/v1/commands/"+id, ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"steps":[{"status":"issued"`) {
		t.Fatalf("get: %d %s", w.Code, w.Body)
	}
	var list struct{ Commands []Command }
	if w := serve(t, h, "GET", "/api/v1/commands?state=all&limit=2", ""); w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &list) != nil || len(list.Commands) != 2 || list.Commands[0].ID != id {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	var pts Points
	if w := serve(t, h, "GET", "/api/v1/commands/points?entity="+entFi, ""); w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &pts) != nil ||
		len(pts.Points) != 2 || pts.Points[0].Name != "line_level" || !strings.Contains(pts.Points[0].Description, "arc power level") || *pts.Points[0].Max != 100 || *pts.Points[0].Current != 100 || !pts.Points[1].Approval || pts.Points[1].Enum[0].Label != "spenta" {
		t.Fatalf("points: %d %s", w.Code, w.Body)
	}
	var audit struct{ Entries []Entry }
	if w := serve(t, h, "GET", "/api/v1/commands/audit", ""); w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &audit) != nil || len(audit.Entries) != 6 {
		t.Fatalf("audit: %d %s", w.Code, w.Body)
	}
	if w := serve(t, h, "GET", "/api/v1/commands?limit=0", ""); w.Code != 400 || !strings.Contains(w.Body.String(), `"parameter":"limit"`) {
		t.Fatalf("limit 0: %d %s", w.Code, w.Body)
	}

	// Another tenant sees nothing of it.
	scope = noScope()
	for _, tc := range []struct{ method, target, body string }{
		{"GET", "/api/v1/commands/" + id, ""},
		{"GET", "/api/v1/commands/points?entity=" + entFi, ""},
		{"POST", "/api/v1/commands/" + id + "/approve", `{"operator":"Luca"}`},
		{"POST", "/api/v1/commands/" + id + "/reject", `{"operator":"Luca","reason":"no"}`},
		{"POST", "/api/v1/commands", `{"entity":"` + entFi + `","point":"line_level","value":40,"reason":"r","operator":"Luca"}`},
	} {
		if w := serve(t, h, tc.method, tc.target, tc.body); w.Code != 404 {
			t.Errorf("%s %s out of scope: %d %s", tc.method, tc.target, w.Code, w.Body)
		}
	}
	if w := serve(t, h, "GET", "/api/v1/commands?state=all", ""); w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"commands":[]}` {
		t.Fatalf("list out of scope: %s", w.Body)
	}
	if w := serve(t, h, "GET", "/api/v1/commands/audit", ""); w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"entries":[]}` {
		t.Fatalf("audit out of scope: %s", w.Body)
	}
}

// TestPointsCurrentFromReadback: a point's current value is its read-back
// point's: an RSMP plan request shows the plan in force (S0014, time_plan),
// which the command itself (plan_request) never carries as a reading.
func TestPointsCurrentFromReadback(t *testing.T) {
	p := loadProfile(t, "rsmp-tlc-sxl-1.2")
	const ent = "urn:ngsi-ld:TrafficSignalController:fi-tlc-1"
	f := newFixture(t, func(c *Config) {
		c.Lookup = func(entity string) (Target, bool) {
			return Target{Entity: ent, Gateway: "gw1", Device: "tlc1", Profile: p, Current: map[string]float64{"time_plan": 3}}, entity == ent
		}
	})
	pts, err := f.s.Points(allScope(), ent)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts.Points) != 1 || pts.Points[0].Name != "plan_request" || pts.Points[0].Current == nil || *pts.Points[0].Current != 3 {
		t.Fatalf("points %+v, want plan_request with the current plan 3", pts.Points)
	}
}
