package system_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// signCommand is a text command as the API shows it, as much as the test
// reads.
type signCommand struct {
	ID           string   `json:"id"`
	State        string   `json:"state"`
	Text         string   `json:"text"`
	Value        *float64 `json:"value"`
	ReadbackText *string  `json:"readback_text"`
	Detail       string   `json:"detail"`
}

// TestMessageSignEndToEnd: an operator's message for a message sign (the
// Ditel display of firmware-profiles, served by ponte-sim over Modbus
// TCP) through the API, ingest, the broker and the edge agent, written
// and read back; a message the display cannot show is refused by ingest
// and, sent directly on the command topic, by the edge; the audit log
// shows the text (issue 16).
func TestMessageSignEndToEnd(t *testing.T) {
	testenv.Integration(t, "ingest, an edge agent, ponte-sim and Mosquitto")
	s := startCommands(t, "")

	code, body := s.do(t, "GET", "/api/v1/commands/points?entity="+signEntity, e2eToken, "")
	if code != http.StatusOK || !strings.Contains(body, `"kind":"text"`) || !strings.Contains(body, `"max_length":9`) || !strings.Contains(body, `"label":"Parcheggio pieno"`) {
		t.Fatalf("the sign's points: %d %s", code, body)
	}

	// Applied, with the text read back from the display's registers.
	code, body = s.do(t, "POST", "/api/v1/commands", e2eToken, fmt.Sprintf(`{"entity":%q,"point":"message","text":"PiEno","reason":"parcheggio pieno","operator":"Maria Rossi"}`, signEntity))
	var c signCommand
	if code != http.StatusAccepted || json.Unmarshal([]byte(body), &c) != nil || c.ID == "" {
		t.Fatalf("issue: %d %s", code, body)
	}
	testenv.Eventually(t, 30*time.Second, "the message's final state", func() bool {
		_, b := s.do(t, "GET", "/api/v1/commands/"+c.ID, e2eToken, "")
		return json.Unmarshal([]byte(b), &c) == nil && c.State != "queued" && c.State != "received"
	})
	if c.State != "applied" || c.Text != "PiEno" || c.Value != nil || c.ReadbackText == nil || *c.ReadbackText != "PiEno" {
		t.Errorf("applied command %+v, want text PiEno read back", c)
	}
	if n := s.sign.Writes()["message"]; n != 1 {
		t.Errorf("the display was written %d times, want 1", n)
	}
	if r, ok := s.watch.report(c.ID, wire.StatusApplied); !ok || r.ReadbackText == nil || *r.ReadbackText != "PiEno" {
		t.Errorf("the gateway's applied report: %+v %v", r, ok)
	}

	// Refused by ingest: a character the 7-segment digits cannot show.
	code, body = s.do(t, "POST", "/api/v1/commands", e2eToken, fmt.Sprintf(`{"entity":%q,"point":"message","text":"PARK PIENO","reason":"prova","operator":"Maria Rossi"}`, signEntity))
	if code != http.StatusBadRequest || !strings.Contains(body, `"parameter":"text"`) || !strings.Contains(body, "the character 'R' cannot be shown on this display") {
		t.Errorf("ingest: %d %s, want 400 naming the text and the character", code, body)
	}
	// Refused by the edge: the same message published on the gateway's
	// command topic as if ingest had sent it.
	r := s.edgeRefusal(t, wire.Command{ID: "e2e-sign-refused", Device: signDevice, Point: "message", Text: "PARK PIENO"})
	if !strings.Contains(r.Detail, "the character 'R' cannot be shown on this display") {
		t.Errorf("refusal detail %q", r.Detail)
	}
	if n := s.sign.Writes()["message"]; n != 1 {
		t.Errorf("the display was written %d times after the refusals, want 1", n)
	}

	// The audit log shows the text, issued and read back.
	var audit struct {
		Entries []struct {
			Command      string  `json:"command"`
			Event        string  `json:"event"`
			Text         *string `json:"text"`
			ReadbackText *string `json:"readback_text"`
		} `json:"entries"`
	}
	code, body = s.do(t, "GET", "/api/v1/commands/audit", e2eToken, "")
	if code != http.StatusOK || json.Unmarshal([]byte(body), &audit) != nil {
		t.Fatalf("audit: %d %.300s", code, body)
	}
	var issued, readBack bool
	for _, e := range audit.Entries {
		if e.Command != c.ID {
			continue
		}
		issued = issued || e.Event == "issued" && e.Text != nil && *e.Text == "PiEno"
		readBack = readBack || e.Event == "applied" && e.ReadbackText != nil && *e.ReadbackText == "PiEno"
	}
	if !issued || !readBack {
		t.Errorf("audit of %s: issued with text %t, applied with read-back text %t", c.ID, issued, readBack)
	}
}
