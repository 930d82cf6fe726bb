package command

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin/api"
	"github.com/ponte-city/ponte/wire"
)

const entSign = "urn:ngsi-ld:Device:fi-sign-1"

// withSign adds a message sign (the Ditel display) on gw1 to the
// inventory.
func withSign(t testing.TB, mod ...func(*profile.TextRules)) func(*Config) {
	sign := loadProfile(t, "ditel-dn-display-modbus")
	for _, m := range mod {
		m(sign.Modbus.Points[0].Write.Text)
	}
	return func(c *Config) {
		base := c.Lookup
		c.Lookup = func(entity string) (Target, bool) {
			if entity == entSign {
				return Target{Entity: entSign, Gateway: "gw1", Device: "sign1", Profile: sign}, true
			}
			return base(entity)
		}
	}
}

func text(s string) *string { return &s }

// A text point is described with its limit, characters and presets; a
// message is checked, published with its text, audited with it, read
// back, kept across a restart, and written to InfluxDB as string fields;
// the command's JSON carries text and readback_text, no value.
func TestTextCommand(t *testing.T) {
	f := newFixture(t, withSign(t))
	pts, err := f.s.Points(allScope(), entSign)
	if err != nil || len(pts.Points) != 1 {
		t.Fatalf("points %+v %v", pts, err)
	}
	p := pts.Points[0]
	if p.Kind != "text" || p.MaxLength != 9 || p.Charset != "0123456789AbCcdEFHhiJLnoPrUu ,.-'" || len(p.Messages) == 0 || p.Messages[0].Label != "Parcheggio pieno" {
		t.Errorf("text point %+v", p)
	}
	c, err := f.s.Issue(ctx(), allScope(), opA, Request{Entity: entSign, Point: "message", Text: text("PiEno"), Reason: "parcheggio pieno", Operator: "Maria Rossi"})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.pub.last().cmd; got.Text != "PiEno" || got.Value != 0 {
		t.Errorf("published %+v", got)
	}
	f.report(t, "gw1", "gw1", c.ID, wire.StatusReceived, nil)
	b, err := wire.EncodeReport(&wire.Report{ID: c.ID, Gateway: "gw1", Status: wire.StatusApplied, ReadbackText: text("PiEno"), At: f.clk.now()})
	if err != nil {
		t.Fatal(err)
	}
	f.s.HandleReport(topics.Report("gw1"), b)
	got := f.get(t, c.ID)
	if got.State != Applied || got.Text != "PiEno" || got.ReadbackText == nil || *got.ReadbackText != "PiEno" {
		t.Fatalf("applied command %+v", got)
	}
	js, _ := json.Marshal(got)
	if !strings.Contains(string(js), `"text":"PiEno"`) || !strings.Contains(string(js), `"readback_text":"PiEno"`) || strings.Contains(string(js), `"value"`) {
		t.Errorf("command JSON %s", js)
	}
	es, err := f.s.Audit(allScope(), f.clk.now().Add(-1e12), 100)
	if err != nil {
		t.Fatal(err)
	}
	var issued, applied *Entry
	for i := range es {
		switch es[i].Event {
		case EventIssued:
			issued = &es[i]
		case "applied":
			applied = &es[i]
		}
	}
	if issued == nil || issued.Text == nil || *issued.Text != "PiEno" || applied == nil || *applied.ReadbackText != "PiEno" {
		t.Fatalf("audit %+v", es)
	}
	if fields := pointFields(auditPoint(issued)); fields["text"] != "PiEno" {
		t.Errorf("InfluxDB point of the issue: %v", fields)
	}
	if fields := pointFields(auditPoint(applied)); fields["readback_text"] != "PiEno" {
		t.Errorf("InfluxDB point of the report: %v", fields)
	}
	f.s.Close()
	f.open(t)
	if again := f.get(t, c.ID); again.Text != "PiEno" || again.ReadbackText == nil || *again.ReadbackText != "PiEno" {
		t.Errorf("after a restart: %+v", again)
	}
}

// Refusals name the field and the rule (400), and nothing is published.
func TestTextCommandRefused(t *testing.T) {
	f := newFixture(t, withSign(t))
	for _, tc := range []struct {
		req          Request
		field, wantS string
	}{
		{Request{Entity: entSign, Point: "message", Text: text("PARK PIENO")}, "text", "text: the character 'R' cannot be shown on this display; allowed: 0-9 A b C c d E F H h i J L n o P r U u space , . - '"},
		{Request{Entity: entSign, Point: "message", Text: text(strings.Repeat("8", 24))}, "text", "text: message of 24 characters is longer than the 9 the display shows"},
		{Request{Entity: entSign, Point: "message", Value: value(3)}, "value", "value: point message takes a text (the message to show), not a number: send text"},
		{Request{Entity: entSign, Point: "message", Value: value(3), Text: text("PiEno")}, "value", "value: point message takes a text"},
		{Request{Entity: entFi, Point: "line_level", Text: text("40")}, "text", "text: point line_level takes a number (value), not a text"},
		{Request{Entity: entSign, Point: "message"}, "value", "value: required"},
	} {
		tc.req.Reason, tc.req.Operator = "prova", "Maria Rossi"
		_, err := f.s.Issue(ctx(), allScope(), opA, tc.req)
		if err == nil || errStatus(err) != http.StatusBadRequest || errField(err) != tc.field || !strings.HasPrefix(err.Error(), tc.wantS) {
			t.Errorf("%+v: %v (field %q), want 400 %s %q", tc.req, err, errField(err), tc.field, tc.wantS)
		}
	}
	if n := f.pub.count(); n != 0 {
		t.Errorf("%d commands published", n)
	}
}

// pointFields returns an InfluxDB point's fields by key.
func pointFields(p *write.Point) map[string]any {
	out := map[string]any{}
	for _, f := range p.FieldList() {
		out[f.Key] = f.Value
	}
	return out
}

// The OpenAPI document (twin/api) describes every key of a text command's
// JSON, of a text point and of their audit entries.
func TestTextOpenAPI(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	rb := "PiEno"
	for schema, v := range map[string]any{
		"Command":        Command{ID: "x", Text: "PiEno", ReadbackText: &rb, Steps: []Step{}},
		"CommandPoint":   Point{Name: "message", Kind: "text", MaxLength: 20, Charset: "0", Messages: []Message{{Text: "PiEno", Label: "pieno"}}, Uppercase: true},
		"AuditEntry":     Entry{Command: "x", Text: &rb, ReadbackText: &rb},
		"CommandRequest": Request{Text: &rb},
	} {
		b, _ := json.Marshal(v)
		var keys map[string]any
		_ = json.Unmarshal(b, &keys)
		props := doc.Components.Schemas[schema].Properties
		for k := range keys {
			if _, ok := props[k]; !ok {
				t.Errorf("schema %s does not document %q", schema, k)
			}
		}
	}
}

// TestInfluxAuditText: a text command's audit entries reach a real
// InfluxDB with the text and the text read back as string fields.
func TestInfluxAuditText(t *testing.T) {
	srv := influxtest.Start(t)
	w := NewInfluxAudit(srv.URL, "", "", srv.Bucket, 5*time.Second)
	defer w.Close()
	// A display of printable ASCII, so that the text carries what line
	// protocol escapes: a quote, a backslash, a comma, an equals sign and
	// a space.
	const msg = `a"b\\c,d=e f`
	f := newFixture(t, withSign(t, func(r *profile.TextRules) { r.Charset, r.MaxLength, r.Messages = "ascii", 20, nil }), func(c *Config) { c.AuditPoints = w })
	f.run(t)
	c, err := f.s.Issue(ctx(), allScope(), opA, Request{Entity: entSign, Point: "message", Text: text(msg), Reason: "parcheggio pieno", Operator: "Maria Rossi"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.EncodeReport(&wire.Report{ID: c.ID, Gateway: "gw1", Status: wire.StatusApplied, ReadbackText: text(msg), At: f.clk.now()})
	if err != nil {
		t.Fatal(err)
	}
	f.s.HandleReport(topics.Report("gw1"), b)
	q := `SELECT "id", "text", "readback_text", "event", "point" FROM ponte_commands`
	byEvent := map[string]map[string]any{}
	testenv.Eventually(t, 20*time.Second, "the issued and applied points in InfluxDB", func() bool {
		for _, s := range srv.Query(t, q) {
			for _, r := range s.Rows() {
				byEvent[r["event"].(string)] = r
			}
		}
		return byEvent["issued"] != nil && byEvent["applied"] != nil
	})
	if is := byEvent["issued"]; is["id"] != c.ID || is["text"] != msg || is["point"] != "message" {
		t.Errorf("issued: %v", is)
	}
	if ap := byEvent["applied"]; ap["readback_text"] != msg {
		t.Errorf("applied: %v", ap)
	}
}
