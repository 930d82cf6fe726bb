package system_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// A traffic light controller's plan request over RSMP (issue 16): ingest
// with its embedded broker, an edge agent supervising two RSMP sites of
// ponte-sim (one whose security code the site config has right, one
// wrong) over TCP, operators through the API.
const (
	planGW       = "fi-tlc-01"
	tlcDevice    = "fi-tlc-duomo"
	tlcEntity    = "urn:ngsi-ld:TrafficSignalController:fi-tlc-duomo"
	tlcSite      = "AB+84001=860TC001"
	tlcWrong     = "fi-tlc-sangallo"
	tlcWrongEnt  = "urn:ngsi-ld:TrafficSignalController:fi-tlc-sangallo"
	tlcWrongSite = "AB+84001=860TC002"
	tlcCode      = "sc2-duomo-4711"
)

// startRSMPSite serves one simulated RSMP controller until the test ends.
func startRSMPSite(t testing.TB, siteID, code string) (string, *sim.RSMPSite) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	site := sim.NewRSMPSite(sim.RSMPSiteConfig{SiteID: siteID, SecurityCode: code, CalendarPlan: 2})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = site.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String(), site
}

func startPlanSystem(t testing.TB) (*cmdSystem, *sim.RSMPSite, *sim.RSMPSite, string) {
	t.Helper()
	dir := t.TempDir()
	addr, site := startRSMPSite(t, tlcSite, tlcCode)
	wrongAddr, wrongSite := startRSMPSite(t, tlcWrongSite, tlcCode)
	// The codes are secrets of the installation, in files only the agent
	// reads; the second one is not the controller's.
	for name, code := range map[string]string{"duomo.code": tlcCode, "sangallo.code": "sc2-not-the-code"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(code+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	siteYAML := siteHeader(planGW, "tcp://127.0.0.1:1883", e2ePassword(planGW), filepath.Join(dir, "buffer")) + fmt.Sprintf(`  - name: %s
    profile: rsmp-tlc-sxl-1.2
    address: "rsmp://%s?site=%s"
    security_code_file: duomo.code
    interval: 1s
    location: {lon: 11.25600, lat: 43.77300}
    entity: %s
  - name: %s
    profile: rsmp-tlc-sxl-1.2
    address: "rsmp://%s?site=%s"
    security_code_file: sangallo.code
    interval: 1s
    location: {lon: 11.24800, lat: 43.78100}
    entity: %s
`, tlcDevice, addr, tlcSite, tlcEntity, tlcWrong, wrongAddr, tlcWrongSite, tlcWrongEnt)
	sitePath := filepath.Join(dir, "site.yaml")
	testenv.WriteFile(t, sitePath, siteYAML)
	ing, cfg := startCommandsIngest(t, dir, planGW, "")
	testenv.WriteFile(t, sitePath, strings.Replace(siteYAML, "tcp://127.0.0.1:1883", ing.BrokerURL, 1))
	w := watch(t, ing.BrokerURL, cfg.Topics()) // reports of every gateway
	a := startAgent(t, sitePath)
	s := &cmdSystem{api: "http://" + ing.HTTP, watch: w}
	testenv.Eventually(t, 30*time.Second, "the controller's plan on the twin", func() bool {
		code, body := s.do(t, "GET", "/api/v1/entities/"+tlcEntity, e2eToken, "")
		return code == http.StatusOK && strings.Contains(body, "time_plan")
	})
	return s, site, wrongSite, "http://" + a.Addr()
}

// publishCmdTo publishes payload on gateway gw's command topic as ingest
// would.
func (w *watcher) publishCmdTo(t testing.TB, gw string, payload []byte) {
	t.Helper()
	if tok := w.c.Publish(w.topics.Cmd(gw), 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish command: %v", tok.Error())
	}
}

// approve approves command id as the second operator.
func (s *cmdSystem) approve(t testing.TB, id string) {
	t.Helper()
	if code, body := s.do(t, "POST", "/api/v1/commands/"+id+"/approve", secondToken, `{"operator":"Luca Bianchi"}`); code != http.StatusOK {
		t.Fatalf("a second operator approves %s: %d %s", id, code, body)
	}
}

// TestPlanRequestEndToEnd: an operator asks a traffic light controller
// for a plan (RSMP M0002, read back from S0014) through the API, ingest,
// the broker, the edge agent and the controller.
func TestPlanRequestEndToEnd(t *testing.T) {
	testenv.Integration(t, "ingest, an edge agent and ponte-sim's RSMP sites")
	s, site, wrongSite, agentAPI := startPlanSystem(t)
	var planID, wrongID, releaseID string

	t.Run("the plan request is offered with its rules", func(t *testing.T) {
		code, body := s.do(t, "GET", "/api/v1/commands/points?entity="+tlcEntity, e2eToken, "")
		var pts struct {
			Points []struct {
				Name     string   `json:"name"`
				Min      *float64 `json:"min"`
				Max      *float64 `json:"max"`
				Safe     *float64 `json:"safe"`
				Approval bool     `json:"approval"`
			} `json:"points"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &pts) != nil || len(pts.Points) != 1 {
			t.Fatalf("writable points: %d %s", code, body)
		}
		p := pts.Points[0]
		if p.Name != "plan_request" || p.Min == nil || *p.Min != 0 || p.Max == nil || *p.Max != 255 || p.Safe == nil || *p.Safe != 0 || !p.Approval {
			t.Fatalf("plan_request offered as %s", body)
		}
	})

	t.Run("a plan applied after a second operator's approval", func(t *testing.T) {
		c := s.issue(t, e2eToken, tlcEntity, "plan_request", 5, "")
		planID = c.ID
		if c.State != "awaiting_approval" {
			t.Fatalf("state %s, want awaiting_approval", c.State)
		}
		if code, body := s.do(t, "POST", "/api/v1/commands/"+c.ID+"/approve", e2eToken, `{"operator":"Maria Rossi"}`); code != http.StatusConflict {
			t.Errorf("the issuer approves: %d %s, want 409", code, body)
		}
		if plan, _ := site.Plan(); plan != 2 {
			t.Fatalf("the controller runs plan %d before the approval, want its calendar's 2", plan)
		}
		s.approve(t, c.ID)
		c = s.until(t, c.ID, "applied", 30*time.Second)
		if c.Readback == nil || *c.Readback != 5 {
			t.Errorf("applied with read-back %v, want 5 (S0014)", c.Readback)
		}
		if plan, from := site.Plan(); plan != 5 || from != "forced" {
			t.Errorf("the controller runs plan %d (%s), want 5 (forced)", plan, from)
		}
		testenv.Eventually(t, 20*time.Second, "plan 5 on the twin", func() bool {
			_, body := s.do(t, "GET", "/api/v1/entities/"+tlcEntity, e2eToken, "")
			return strings.Contains(body, `"forced"`)
		})
	})

	t.Run("out of range refused by ingest and by the edge", func(t *testing.T) {
		code, body := s.do(t, "POST", "/api/v1/commands", e2eToken, fmt.Sprintf(`{"entity":%q,"point":"plan_request","value":256,"reason":"prova","operator":"Maria Rossi"}`, tlcEntity))
		if code != http.StatusBadRequest || !strings.Contains(body, "maximum 255") {
			t.Errorf("ingest: %d %s, want 400 naming the maximum", code, body)
		}
		now := time.Now().UTC()
		payload, err := wire.EncodeCommand(&wire.Command{ID: "e2e-plan-out-of-range", Device: tlcDevice, Point: "plan_request", Value: 256, Issued: now, Expires: now.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		s.watch.publishCmdTo(t, planGW, payload)
		var r wire.Report
		testenv.Eventually(t, 20*time.Second, "the edge's refusal", func() bool {
			var ok bool
			r, ok = s.watch.report("e2e-plan-out-of-range", wire.StatusRefused)
			return ok
		})
		if !strings.Contains(r.Detail, "maximum 255") {
			t.Errorf("refusal detail %q, want the maximum", r.Detail)
		}
		if plan, _ := site.Plan(); plan != 5 {
			t.Errorf("the controller runs plan %d after the refusals, want 5", plan)
		}
	})

	t.Run("a wrong security code fails with the controller's reason", func(t *testing.T) {
		c := s.issue(t, e2eToken, tlcWrongEnt, "plan_request", 7, "")
		wrongID = c.ID
		s.approve(t, c.ID)
		c = s.until(t, c.ID, "failed", 30*time.Second)
		t.Logf("detail: %s", c.Detail)
		if !strings.Contains(c.Detail, "Incorrect security code") || strings.Contains(c.Detail, "sc2-not-the-code") {
			t.Errorf("detail %q, want the controller's reason without the code", c.Detail)
		}
		if plan, _ := wrongSite.Plan(); plan != 2 {
			t.Errorf("the controller runs plan %d, want its calendar's 2", plan)
		}
	})

	t.Run("the safe value hands the plan back to the calendar", func(t *testing.T) {
		c := s.issue(t, e2eToken, tlcEntity, "plan_request", 0, "")
		releaseID = c.ID
		s.approve(t, c.ID)
		c = s.until(t, c.ID, "applied", 30*time.Second)
		if c.Readback == nil || *c.Readback != 0 {
			t.Errorf("applied with read-back %v, want 0", c.Readback)
		}
		if plan, from := site.Plan(); plan != 2 || from != "calendar_clock" {
			t.Errorf("the controller runs plan %d (%s), want 2 (calendar_clock)", plan, from)
		}
	})

	t.Run("every step in the audit log", func(t *testing.T) {
		var audit struct {
			Entries []struct {
				Command string `json:"command"`
				Event   string `json:"event"`
			} `json:"entries"`
		}
		code, body := s.do(t, "GET", "/api/v1/commands/audit", e2eToken, "")
		if code != http.StatusOK || json.Unmarshal([]byte(body), &audit) != nil {
			t.Fatalf("audit: %d %.300s", code, body)
		}
		events := map[string]string{}
		for _, e := range audit.Entries {
			events[e.Command] += e.Event + ","
		}
		for id, want := range map[string][]string{
			planID:    {"issued,", "approved,", "published,", "received,", "applied,"},
			releaseID: {"issued,", "approved,", "published,", "received,", "applied,"},
			wrongID:   {"issued,", "approved,", "published,", "received,", "failed,"},
		} {
			seq := events[id]
			rest := seq
			for _, ev := range want {
				i := strings.Index(rest, ev)
				if i < 0 {
					t.Errorf("command %s: audit %q lacks %s in order %v", id, seq, ev, want)
					break
				}
				rest = rest[i+len(ev):]
			}
		}
		if strings.Contains(body, tlcCode) || strings.Contains(body, "sc2-not-the-code") {
			t.Error("the audit log shows a security code")
		}
	})

	t.Run("the agent's status shows the controllers, not their codes", func(t *testing.T) {
		resp, err := http.Get(agentAPI + "/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), tlcDevice) {
			t.Fatalf("/status: %d %.300s", resp.StatusCode, b)
		}
		if strings.Contains(string(b), tlcCode) || strings.Contains(string(b), "sc2-not-the-code") {
			t.Errorf("/status shows a security code: %s", b)
		}
	})
}
