package command

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/wire"
)

func TestApprovalNeedsASecondOperator(t *testing.T) {
	f := newFixture(t)
	c := f.issue(t, "line_on", 0)
	if c.State != AwaitingApproval || f.pub.count() != 0 {
		t.Fatalf("state %s, %d published: a point with approval must wait for it", c.State, f.pub.count())
	}
	_, err := f.s.Approve(ctx(), allScope(), opA, c.ID, Decision{Operator: "Maria Rossi"})
	if errStatus(err) != http.StatusConflict || !strings.Contains(err.Error(), "a second operator must approve") {
		t.Fatalf("approval by the issuer's token: %v, want 409 a second operator must approve", err)
	}
	if _, err := f.s.Approve(ctx(), noScope(), opB, c.ID, Decision{Operator: "Luca Bianchi"}); errStatus(err) != http.StatusNotFound {
		t.Fatalf("approval from outside the command's scope: %v, want 404", err)
	}
	if f.pub.count() != 0 {
		t.Fatal("published before a second operator approved")
	}
	c, err = f.s.Approve(ctx(), allScope(), opB, c.ID, Decision{Operator: "Luca Bianchi"})
	if err != nil {
		t.Fatal(err)
	}
	if c.State != Queued || c.Approval == nil || c.Approval.Operator.ID != opB || c.Approval.Operator.Name != "Luca Bianchi" {
		t.Fatalf("after approval: state %s approval %+v", c.State, c.Approval)
	}
	if f.pub.count() != 1 {
		t.Fatalf("%d published after approval, want 1", f.pub.count())
	}
	m := f.pub.last()
	if m.topic != "ponte/gw/gw1/cmd" || m.cmd.ID != c.ID || m.cmd.Device != "dali1" || m.cmd.Point != "line_on" || m.cmd.Value != 0 || !m.cmd.Expires.Equal(c.Expires) {
		t.Fatalf("published %s %+v", m.topic, m.cmd)
	}
	if _, err := f.s.Approve(ctx(), allScope(), opB, c.ID, Decision{Operator: "Luca Bianchi"}); errStatus(err) != http.StatusConflict {
		t.Fatalf("second approval: %v, want 409", err)
	}
	if got, want := f.events(t, c.ID), []string{"issued", "approved", "published"}; !slices.Equal(got, want) {
		t.Fatalf("audit events %v, want %v", got, want)
	}
}

func TestApprovalAfterExpiryExpires(t *testing.T) {
	f := newFixture(t)
	c := f.issue(t, "line_on", 1)
	f.clk.add(DefaultExpiry)
	c, err := f.s.Approve(ctx(), allScope(), opB, c.ID, Decision{Operator: "Luca Bianchi"})
	if err != nil || c.State != Expired || f.pub.count() != 0 {
		t.Fatalf("approved after its expiry: state %s err %v, %d published; want expired, never sent", c.State, err, f.pub.count())
	}
}

func TestReject(t *testing.T) {
	f := newFixture(t)
	c := f.issue(t, "line_on", 0)
	if _, err := f.s.Reject(ctx(), allScope(), opB, c.ID, Decision{Operator: "Luca Bianchi"}); errField(err) != "reason" {
		t.Fatalf("reject without a reason: %v, want 400 naming reason", err)
	}
	c, err := f.s.Reject(ctx(), allScope(), opB, c.ID, Decision{Operator: "Luca Bianchi", Reason: "evento in piazza"})
	if err != nil || c.State != Rejected || c.Detail != "evento in piazza" {
		t.Fatalf("reject: %+v %v", c, err)
	}
	if _, err := f.s.Approve(ctx(), allScope(), opB, c.ID, Decision{Operator: "Luca Bianchi"}); errStatus(err) != http.StatusConflict {
		t.Fatalf("approve a rejected command: %v, want 409", err)
	}
	if f.pub.count() != 0 {
		t.Fatal("a rejected command was published")
	}
}

func TestIssueRefusals(t *testing.T) {
	f := newFixture(t)
	ok := Request{Entity: entFi, Point: "line_level", Value: value(40), Reason: "lavori stradali", Operator: "Maria Rossi"}
	for _, tc := range []struct {
		name   string
		mod    func(*Request)
		scope  bool
		status int
		field  string
		msg    string
	}{
		{"above the maximum", func(r *Request) { r.Value = value(120) }, true, 400, "value", "value 120 is above the maximum 100 %"},
		{"off the step", func(r *Request) { r.Value = value(40.5) }, true, 400, "value", "not a multiple of the step"},
		{"not in the enum", func(r *Request) { r.Point, r.Value = "line_on", value(2) }, true, 400, "value", "value 2 is not one of 0 (spenta), 1"},
		{"not writable", func(r *Request) { r.Point = "lamp0_level" }, true, 400, "point", "is not writable"},
		{"no such point", func(r *Request) { r.Point = "nope" }, true, 400, "point", "has no point nope"},
		{"unknown entity", func(r *Request) { r.Entity = "urn:ngsi-ld:Streetlight:nowhere" }, true, 404, "entity", "not found"},
		{"another tenant's entity", func(r *Request) {}, false, 404, "entity", "not found"},
		{"no value", func(r *Request) { r.Value = nil }, true, 400, "value", "required"},
		{"no reason", func(r *Request) { r.Reason = " " }, true, 400, "reason", "1 to 500"},
		{"reason too long", func(r *Request) { r.Reason = strings.Repeat("è", 501) }, true, 400, "reason", "1 to 500"},
		{"operator too long", func(r *Request) { r.Operator = strings.Repeat("x", 81) }, true, 400, "operator", "1 to 80"},
		{"expiry above the maximum", func(r *Request) { r.ExpiresIn = "2h" }, true, 400, "expires_in", "at most 1h0m0s"},
		{"expiry not a duration", func(r *Request) { r.ExpiresIn = "soon" }, true, 400, "expires_in", "expected a duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.mod(&r)
			scope := noScope()
			if tc.scope {
				scope = allScope()
			}
			_, err := f.s.Issue(ctx(), scope, opA, r)
			e := errorOf(err)
			if err == nil || e.Status != tc.status || e.Field != tc.field || !strings.Contains(e.Msg, tc.msg) {
				t.Fatalf("got %v (status %d, field %q), want %d naming %s with %q", err, e.Status, e.Field, tc.status, tc.field, tc.msg)
			}
		})
	}
	if f.pub.count() != 0 || len(f.s.List(allScope(), true, "", 100)) != 0 {
		t.Fatal("a refused request left a command")
	}
}

func TestRateLimits(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.OperatorBurst, c.OperatorRefill = 4, time.Minute })
	for i := range 3 {
		f.issue(t, "line_level", float64(10*i+10))
	}
	_, err := f.s.Issue(ctx(), allScope(), opA, Request{Entity: entFi, Point: "line_level", Value: value(50), Reason: "r", Operator: "Maria Rossi"})
	e := errorOf(err)
	if e.Status != http.StatusTooManyRequests || e.RetryAfter <= 0 || e.RetryAfter > DefaultDeviceRefill || !strings.Contains(e.Msg, "device gw1/dali1") {
		t.Fatalf("fourth command to one device at once: %v (retry after %s), want 429 for the device", err, e.RetryAfter)
	}
	// Another device: the operator has one left of 4, then is limited.
	if _, err := f.s.Issue(ctx(), allScope(), opA, Request{Entity: entBa, Point: "line_level", Value: value(50), Reason: "r", Operator: "Maria Rossi"}); err != nil {
		t.Fatal(err)
	}
	_, err = f.s.Issue(ctx(), allScope(), opA, Request{Entity: entBa, Point: "line_level", Value: value(60), Reason: "r", Operator: "Maria Rossi"})
	if e := errorOf(err); e.Status != http.StatusTooManyRequests || !strings.Contains(e.Msg, "operator "+opA) {
		t.Fatalf("operator past their burst: %v, want 429 for the operator", err)
	}
	// Another operator may still write the second device.
	if _, err := f.s.Issue(ctx(), allScope(), opB, Request{Entity: entBa, Point: "line_level", Value: value(60), Reason: "r", Operator: "Luca"}); err != nil {
		t.Fatal(err)
	}
	f.clk.add(DefaultDeviceRefill)
	if _, err := f.s.Issue(ctx(), allScope(), opB, Request{Entity: entFi, Point: "line_level", Value: value(70), Reason: "r", Operator: "Luca"}); err != nil {
		t.Fatalf("after the device's refill: %v", err)
	}
}

func TestMaxOpen(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxOpen = 1 })
	f.issue(t, "line_level", 10)
	_, err := f.s.Issue(ctx(), allScope(), opB, Request{Entity: entBa, Point: "line_level", Value: value(50), Reason: "r", Operator: "Luca"})
	if errStatus(err) != http.StatusTooManyRequests || !strings.Contains(err.Error(), "max_open") {
		t.Fatalf("past max_open: %v", err)
	}
}

func TestReportsToApplied(t *testing.T) {
	f := newFixture(t)
	c := f.issue(t, "line_level", 40)
	if c.State != Queued || f.pub.count() != 1 {
		t.Fatalf("state %s, %d published: a point without approval is sent at once", c.State, f.pub.count())
	}
	f.report(t, "gw1", "gw1", c.ID, wire.StatusReceived, nil)
	if got := f.get(t, c.ID).State; got != Received {
		t.Fatalf("after received: %s", got)
	}
	f.report(t, "gw1", "gw1", c.ID, wire.StatusApplied, value(40))
	c = f.get(t, c.ID)
	if c.State != Applied || c.Readback == nil || *c.Readback != 40 {
		t.Fatalf("after applied: %s readback %v", c.State, c.Readback)
	}
	var steps []string
	for _, s := range c.Steps {
		steps = append(steps, s.Status)
	}
	if want := []string{"issued", "published", "received", "applied"}; !slices.Equal(steps, want) {
		t.Fatalf("steps %v, want %v", steps, want)
	}
	// A repeat of the final report changes nothing and is not logged.
	f.report(t, "gw1", "gw1", c.ID, wire.StatusApplied, value(40))
	if got := f.events(t, c.ID); len(got) != 4 {
		t.Fatalf("a repeated report was logged: %v", got)
	}
	if n := f.counter(t, "ponte_ingest_commands_total", map[string]string{"event": "applied"}); n != 1 {
		t.Fatalf("applied counted %v times", n)
	}
}

func TestReportOfAnotherGatewayRefused(t *testing.T) {
	f := newFixture(t)
	c := f.issue(t, "line_level", 40)
	f.report(t, "gw2", "gw2", c.ID, wire.StatusApplied, value(40)) // gw2 speaks of gw1's command
	f.report(t, "gw2", "gw1", c.ID, wire.StatusApplied, value(40)) // gw2's topic, gw1's name
	f.report(t, "gw1", "gw1", "cmd-unknown", wire.StatusApplied, value(40))
	f.s.HandleReport(topics.Report("gw1"), []byte(`{"v":1,"id":"x"`))
	if got := f.get(t, c.ID).State; got != Queued {
		t.Fatalf("state %s after other gateways' reports, want queued", got)
	}
	for reason, want := range map[string]float64{"wrong_gateway": 2, "unknown_command": 1, "malformed": 1} {
		if n := f.counter(t, "ponte_ingest_command_reports_refused_total", map[string]string{"reason": reason}); n != want {
			t.Errorf("refused %s: %v, want %v", reason, n, want)
		}
	}
}

func TestExpiryByIngestAndLateReport(t *testing.T) {
	f := newFixture(t)
	c := f.issue(t, "line_level", 40)
	f.clk.add(DefaultExpiry)
	f.s.sweep(ctx())
	if got := f.get(t, c.ID).State; got != Queued {
		t.Fatalf("at expiry, within the grace: %s, want still queued", got)
	}
	f.clk.add(DefaultGrace)
	f.s.sweep(ctx())
	c = f.get(t, c.ID)
	if c.State != Expired || c.Detail != detailNoReport {
		t.Fatalf("after expiry and grace: %s %q", c.State, c.Detail)
	}
	f.report(t, "gw1", "gw1", c.ID, wire.StatusReceived, nil) // late, a step: recorded, still expired
	if got := f.get(t, c.ID).State; got != Expired {
		t.Fatalf("late received: %s, want still expired", got)
	}
	f.report(t, "gw1", "gw1", c.ID, wire.StatusApplied, value(40))
	c = f.get(t, c.ID)
	if c.State != Applied || !strings.Contains(c.Steps[len(c.Steps)-1].Detail, "after ingest had marked it expired") {
		t.Fatalf("late applied report: %s, last step %+v; the gateway's word wins", c.State, c.Steps[len(c.Steps)-1])
	}
	if got, want := f.events(t, c.ID), []string{"issued", "published", "expired", "received", "applied"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	// An awaiting approval expires at its expiry, without grace.
	a := f.issue(t, "line_on", 1)
	f.clk.add(DefaultExpiry)
	f.s.sweep(ctx())
	if a = f.get(t, a.ID); a.State != Expired || a.Detail != detailNotApproved {
		t.Fatalf("unapproved at expiry: %s %q", a.State, a.Detail)
	}
}

func TestResend(t *testing.T) {
	f := newFixture(t)
	f.pub.fail(errors.New("not connected"))
	c := f.issue(t, "line_level", 40)
	other := f.issue(t, "line_level", 50)
	if f.pub.count() != 0 || f.get(t, c.ID).State != Queued {
		t.Fatal("a failed publish must leave the command queued")
	}
	f.pub.fail(nil)
	f.s.GatewayOnline("gw2") // another gateway: nothing to send
	f.s.sweep(ctx())
	if f.pub.count() != 0 {
		t.Fatal("gw2 online resent gw1's commands")
	}
	f.s.GatewayOnline("gw1")
	f.s.sweep(ctx())
	if f.pub.count() != 2 {
		t.Fatalf("%d published when gw1 came online, want both queued commands", f.pub.count())
	}
	for _, m := range f.pub.all() {
		if m.cmd.ID == c.ID && (!m.cmd.Issued.Equal(c.Created) || !m.cmd.Expires.Equal(c.Expires)) {
			t.Fatalf("resend changed issued/expires: %+v", m.cmd)
		}
	}
	// A report ends the resends of that command; the other is resent every Resend.
	f.report(t, "gw1", "gw1", other.ID, wire.StatusReceived, nil)
	f.pub.reset()
	f.clk.add(DefaultResend - time.Second)
	f.s.sweep(ctx())
	if f.pub.count() != 0 {
		t.Fatal("resent before the resend interval")
	}
	f.clk.add(time.Second)
	f.s.sweep(ctx())
	if f.pub.count() != 1 || f.pub.last().cmd.ID != c.ID {
		t.Fatalf("resend after the interval: %+v", f.pub.all())
	}
	if got, want := f.events(t, c.ID), []string{"issued", "published", "resent"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	// Online again after its expiry: not sent.
	f.pub.reset()
	f.clk.set(c.Expires)
	f.s.GatewayOnline("gw1")
	f.s.sweep(ctx())
	if f.pub.count() != 0 {
		t.Fatal("an expired command was resent")
	}
}

func TestRestartRebuildsFromAudit(t *testing.T) {
	f := newFixture(t)
	pending := f.issue(t, "line_on", 0)
	queued := f.issue(t, "line_level", 30)
	done := f.issue(t, "line_level", 20)
	f.report(t, "gw1", "gw1", done.ID, wire.StatusApplied, value(20))
	f.s.Close()
	f.pub.reset()
	f.open(t)
	for id, want := range map[string]State{pending.ID: AwaitingApproval, queued.ID: Queued, done.ID: Applied} {
		if got := f.get(t, id); got.State != want || len(got.Steps) == 0 || got.Operator.ID != opA {
			t.Fatalf("%s after restart: %+v, want %s", id, got, want)
		}
	}
	if n := f.counter(t, "ponte_ingest_commands_open", nil); n != 2 {
		t.Fatalf("open gauge %v after restart, want 2", n)
	}
	// The queued one is sent again; the pending one still needs approval.
	f.clk.add(DefaultResend)
	f.s.sweep(ctx())
	if f.pub.count() != 1 || f.pub.last().cmd.ID != queued.ID {
		t.Fatalf("after restart published %+v, want the queued command", f.pub.all())
	}
	if _, err := f.s.Approve(ctx(), allScope(), opA, pending.ID, Decision{Operator: "Maria"}); errStatus(err) != http.StatusConflict {
		t.Fatalf("issuer approving after restart: %v", err)
	}
	if c, err := f.s.Approve(ctx(), allScope(), opB, pending.ID, Decision{Operator: "Luca"}); err != nil || c.State != Queued {
		t.Fatalf("approve after restart: %v %v", c.State, err)
	}
}

func TestTamperedAuditLineDetected(t *testing.T) {
	f := newFixture(t)
	c := f.issue(t, "line_level", 40)
	f.report(t, "gw1", "gw1", c.ID, wire.StatusApplied, value(40))
	f.s.Close()
	path := filepath.Join(f.dir, auditFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	lines[1] = strings.Replace(lines[1], `"event":"published"`, `"event":"published" `, 1) // line 2 changed
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o640); err != nil {
		t.Fatal(err)
	}
	cfg := f.cfg
	_, err = New(cfg)
	if !errors.Is(err, ErrBrokenAudit) || !strings.Contains(err.Error(), auditFile+":3:") {
		t.Fatalf("start on a changed line 2: %v, want a broken chain at line 3", err)
	}
	f.cfg.ContinueBrokenAudit = true
	f.open(t)
	if n := f.counter(t, "ponte_ingest_command_audit_broken_total", nil); n != 1 {
		t.Fatalf("broken chain counted %v times", n)
	}
	if got := f.get(t, c.ID).State; got != Applied {
		t.Fatalf("state after continuing: %s", got)
	}
}

func TestRotationKeepsChain(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.AuditMaxBytes = 1500; c.DeviceBurst = 100 })
	var ids []string
	for i := range 12 {
		c := f.issue(t, "line_level", float64(i+1))
		f.report(t, "gw1", "gw1", c.ID, wire.StatusApplied, value(float64(i+1)))
		ids = append(ids, c.ID)
	}
	files, err := rotatedFiles(f.dir)
	if err != nil || len(files) < 2 {
		t.Fatalf("rotated files %v (%v), want several", files, err)
	}
	es, err := f.s.Audit(allScope(), time.Time{}, 10000)
	if err != nil || len(es) != 36 {
		t.Fatalf("%d entries (%v), want 36 across the files", len(es), err)
	}
	for i, e := range es {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
	}
	f.s.Close()
	f.open(t) // verifies the chain across the files
	for _, id := range ids {
		if f.get(t, id).State != Applied {
			t.Fatalf("%s lost across rotation", id)
		}
	}
	// A rotated file past the retention goes; the chain starts at the
	// oldest file kept.
	old := filepath.Join(f.dir, files[0])
	past := f.clk.now().Add(-DefaultAuditRetention - time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	f.s.Close()
	f.open(t)
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("file past the retention kept: %v", err)
	}
}

func TestPartialLastLineCutOff(t *testing.T) {
	f := newFixture(t)
	c := f.issue(t, "line_level", 40)
	f.s.Close()
	fh, err := os.OpenFile(filepath.Join(f.dir, auditFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteString(`{"seq":3,"at":"2026-`)
	fh.Close()
	f.open(t)
	if got := f.get(t, c.ID).State; got != Queued {
		t.Fatalf("after a torn write: %s", got)
	}
	f.report(t, "gw1", "gw1", c.ID, wire.StatusApplied, value(40))
	f.s.Close()
	f.open(t) // the chain is intact after the cut
}

func FuzzHandleReport(f *testing.F) {
	fx := newFixture(f)
	id := fx.issue(f, "line_level", 40).ID
	at := `"at":"2026-12-05T10:00:00Z"`
	f.Add("ponte/gw/gw1/report", []byte(`{"v":1,"id":"`+id+`","gateway":"gw1","status":"applied","readback":40,`+at+`}`))
	f.Add("ponte/gw/gw1/report", []byte(`{"v":1,"id":"`+id+`","gateway":"gw1","status":"received",`+at+`}`))
	f.Add("ponte/gw/gw2/report", []byte(`{"v":1,"id":"`+id+`","gateway":"gw2","status":"received",`+at+`}`))
	f.Add("ponte/gw/gw1/report", []byte(`{"v":1,"id":"`+id+`","gateway":"gw1","status":"failed","detail":"read back 3, wrote 4",`+at+`,"repeat":true}`))
	f.Add("ponte/gw/gw1/up", []byte(`{}`))
	f.Add("ponte/gw//report", []byte(`{"v":1,"id":"","gateway":"","status":"x"}`))
	f.Add("ponte/gw/gw1/report", []byte(`{"v":1,"id":"`+id+`","gateway":"gw1","status":"applied","readback":1e999,`+at+`}`))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		fx.s.HandleReport(topic, payload)
		if c, ok := fx.s.Get(allScope(), id); !ok || c.State == "" {
			t.Fatalf("command lost or without state after a report: %+v", c)
		}
	})
}
