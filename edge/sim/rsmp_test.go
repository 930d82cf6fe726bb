package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"
)

// supervisor is a scripted RSMP supervisor for the simulated site, with
// its own framing: it checks the site against the spec's text (RSMP core
// 3.2.2, SXL TLC 1.2.1), not against Ponte's supervisor.
type supervisor struct {
	t    *testing.T
	conn net.Conn
	rd   *bufio.Reader
}

func startSite(t *testing.T) (*RSMPSite, *supervisor) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	site := NewRSMPSite(RSMPSiteConfig{SiteID: "KK+AG9998=001", SecurityCode: "code-2", CalendarPlan: 3})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = site.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return site, &supervisor{t: t, conn: c, rd: bufio.NewReader(c)}
}

func (s *supervisor) send(m map[string]any) string {
	s.t.Helper()
	m["mType"] = "rSMsg"
	if _, ok := m["mId"]; !ok && m["type"] != "MessageAck" && m["type"] != "MessageNotAck" {
		m["mId"] = uuid4()
	}
	b, _ := json.Marshal(m)
	// Consecutive form feeds must be handled by the receiver.
	if _, err := s.conn.Write(append(append(b, 0x0C), 0x0C)); err != nil {
		s.t.Fatal(err)
	}
	id, _ := m["mId"].(string)
	return id
}

func (s *supervisor) recv() map[string]any {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := s.rd.ReadBytes(0x0C)
	if err != nil {
		s.t.Fatalf("site: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b[:len(b)-1], &m); err != nil {
		s.t.Fatalf("site sent %q: %v", b, err)
	}
	if m["mType"] != "rSMsg" {
		s.t.Fatalf("site sent mType %v", m["mType"])
	}
	return m
}

func (s *supervisor) expect(typ string) map[string]any {
	s.t.Helper()
	m := s.recv()
	if m["type"] != typ {
		s.t.Fatalf("site sent %v, want %s: %v", m["type"], typ, m)
	}
	return m
}

func (s *supervisor) version(siteID string) map[string]any {
	return map[string]any{"type": "Version", "RSMP": []map[string]string{{"vers": "3.2.2"}},
		"siteId": []map[string]string{{"sId": siteID}}, "SXL": "1.2.1"}
}

// establish runs the supervisor's side; early is sent before the Version
// exchange and must not be acknowledged.
func (s *supervisor) establish(early map[string]any) {
	s.t.Helper()
	v := s.expect("Version")
	if ids, _ := v["siteId"].([]any); len(ids) != 1 || ids[0].(map[string]any)["sId"] != "KK+AG9998=001" || v["SXL"] != "1.2.1" {
		s.t.Fatalf("site's Version %v", v)
	}
	if early != nil {
		s.send(early)
	}
	s.send(map[string]any{"type": "MessageAck", "oMId": v["mId"]})
	vid := s.send(s.version("KK+AG9998=001"))
	if a := s.expect("MessageAck"); a["oMId"] != vid {
		s.t.Fatalf("first ack %v, want the one of the Version %s (nothing before the exchange is acknowledged)", a["oMId"], vid)
	}
	wd := s.expect("Watchdog")
	s.send(map[string]any{"type": "MessageAck", "oMId": wd["mId"]})
	wid := s.send(map[string]any{"type": "Watchdog", "wTs": rsmpTime(time.Now())})
	if a := s.expect("MessageAck"); a["oMId"] != wid {
		s.t.Fatalf("ack of %v, want of the Watchdog", a["oMId"])
	}
	agg := s.expect("AggregatedStatus")
	if se, _ := agg["se"].([]any); len(se) != 8 {
		s.t.Fatalf("aggregated status %v: want eight state bits", agg)
	}
	s.send(map[string]any{"type": "MessageAck", "oMId": agg["mId"]})
}

func TestRSMPSiteRefusesAnotherSiteID(t *testing.T) {
	_, s := startSite(t)
	v := s.expect("Version")
	s.send(map[string]any{"type": "MessageAck", "oMId": v["mId"]})
	vid := s.send(s.version("KK+AG9998=002"))
	n := s.expect("MessageNotAck")
	if n["oMId"] != vid || !strings.Contains(n["rea"].(string), "Site id mismatch") {
		t.Fatalf("NotAck %v", n)
	}
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.rd.ReadBytes(0x0C); err == nil {
		t.Fatal("the site kept the connection after refusing the Version")
	}
}

func TestRSMPSiteStatusesAndPlanRequest(t *testing.T) {
	site, s := startSite(t)
	s.establish(map[string]any{"type": "Watchdog", "wTs": rsmpTime(time.Now())})

	status := func(cid string, refs ...string) map[string]any {
		var ss []map[string]string
		for _, r := range refs {
			sci, n, _ := strings.Cut(r, "/")
			ss = append(ss, map[string]string{"sCI": sci, "n": n})
		}
		id := s.send(map[string]any{"type": "StatusRequest", "ntsOId": "", "xNId": "", "cId": cid, "sS": ss})
		if a := s.recv(); a["type"] != "MessageAck" || a["oMId"] != id {
			return a
		}
		return s.expect("StatusResponse")
	}
	r := status("KK+AG9998=001", "S0014/status", "S0014/source")
	ss := r["sS"].([]any)
	if v := ss[0].(map[string]any); v["s"] != "3" || v["q"] != "recent" {
		t.Fatalf("S0014 status %v, want 3 recent", v)
	}
	if v := ss[1].(map[string]any); v["s"] != "calendar_clock" {
		t.Fatalf("S0014 source %v", v)
	}
	s.send(map[string]any{"type": "MessageAck", "oMId": r["mId"]})
	r = status("KK+AG9998=999", "S0014/status")
	if v := r["sS"].([]any)[0].(map[string]any); v["s"] != nil || v["q"] != "undefined" {
		t.Fatalf("unknown component: %v, want s null and q undefined", v)
	}
	s.send(map[string]any{"type": "MessageAck", "oMId": r["mId"]})
	if r = status("KK+AG9998=001", "S9999/status"); r["type"] != "MessageNotAck" {
		t.Fatalf("unknown status: %v, want MessageNotAck", r)
	}

	command := func(args map[string]string) map[string]any {
		var arg []map[string]string
		for n, v := range args {
			arg = append(arg, map[string]string{"cCI": "M0002", "n": n, "cO": "setPlan", "v": v})
		}
		id := s.send(map[string]any{"type": "CommandRequest", "ntsOId": "", "xNId": "", "cId": "KK+AG9998=001", "arg": arg})
		a := s.recv()
		if a["oMId"] != id {
			t.Fatalf("answer %v does not refer to the command %s", a, id)
		}
		return a
	}
	if a := command(map[string]string{"status": "True", "securityCode": "wrong", "timeplan": "7"}); a["type"] != "MessageNotAck" || a["rea"] != "Incorrect security code" {
		t.Fatalf("wrong code: %v", a)
	}
	if a := command(map[string]string{"status": "True", "securityCode": "code-2"}); a["type"] != "MessageNotAck" || !strings.Contains(a["rea"].(string), "Incomplete") {
		t.Fatalf("missing timeplan: %v", a)
	}
	if plan, _ := site.Plan(); plan != 3 {
		t.Fatalf("plan %d after refused commands, want 3", plan)
	}
	if a := command(map[string]string{"status": "True", "securityCode": "code-2", "timeplan": "7"}); a["type"] != "MessageAck" {
		t.Fatalf("M0002: %v", a)
	}
	resp := s.expect("CommandResponse")
	for _, it := range resp["rvs"].([]any) {
		if v := it.(map[string]any); v["age"] != "recent" || v["cCI"] != "M0002" {
			t.Fatalf("return value %v", v)
		}
	}
	s.send(map[string]any{"type": "MessageAck", "oMId": resp["mId"]})
	if plan, from := site.Plan(); plan != 7 || from != "forced" {
		t.Fatalf("plan %d (%s), want 7 forced", plan, from)
	}
	r = status("KK+AG9998=001", "S0014/status")
	if v := r["sS"].([]any)[0].(map[string]any); v["s"] != "7" {
		t.Fatalf("S0014 after M0002: %v", v)
	}
}
