package app_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/command"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// addDali appends a DALI lighting line (Intesis gateway, profile
// intesis-dali-modbus: line_level 0-100 %, line_on needing approval) to
// gw's site config in dir, as entity at where.
func addDali(t testing.TB, dir, gw, entity, where string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, gw+".yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "  - name: dali-1\n    profile: intesis-dali-modbus\n    address: tcp://127.0.0.1:502\n    unit: 9\n    interval: 10s\n    location: %s\n    entity: %s\n", where, entity)
}

// fakeGateway connects to ingest's broker as gw and collects the commands
// on its command topic.
type fakeGateway struct {
	c    paho.Client
	gw   string
	cmds chan *wire.Command
}

func connectGateway(t *testing.T, url, gw string) *fakeGateway {
	t.Helper()
	c, err := ingesttest.Connect(url, "ponte-edge-"+gw, gw, password(gw))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(50) })
	g := &fakeGateway{c: c, gw: gw, cmds: make(chan *wire.Command, 16)}
	topics := wire.Topics{Prefix: wire.DefaultPrefix}
	tok := c.Subscribe(topics.Cmd(gw), 1, func(_ paho.Client, m paho.Message) {
		cmd, err := wire.DecodeCommand(m.Payload())
		if err != nil {
			t.Errorf("gateway %s: %v", gw, err)
			return
		}
		g.cmds <- cmd
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return g
}

func (g *fakeGateway) next(t *testing.T) *wire.Command {
	t.Helper()
	select {
	case c := <-g.cmds:
		return c
	case <-time.After(20 * time.Second):
		t.Fatal("no command reached the gateway")
		return nil
	}
}

func (g *fakeGateway) report(t *testing.T, id string, st wire.CommandStatus, readback *float64) {
	t.Helper()
	b, err := wire.EncodeReport(&wire.Report{ID: id, Gateway: g.gw, Status: st, Readback: readback, At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if tok := g.c.Publish(wire.Topics{Prefix: wire.DefaultPrefix}.Report(g.gw), 1, false, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("report: %v", tok.Error())
	}
}

// apiJSON calls the API and decodes its JSON answer into v, failing t
// unless the status is want.
func apiJSON(t *testing.T, method, url, token, body string, want int, v any) {
	t.Helper()
	code, _, b := httpDo(t, method, url, token, body)
	if code != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, code, b, want)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(b), v); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, b)
		}
	}
}

// The DALI line of the commands' tests, and their operators' tokens.
const (
	entity     = "urn:ngsi-ld:StreetlightControlCabinet:fi-duomo-dali"
	tokA, tokB = "operator-token-maria-0001", "operator-token-luca-00001"
)

// startDaliIngest runs ingest with its embedded broker and gateway gw1's
// DALI line (entity) on the twin, operators tokA and tokB, and extra
// top-level config; it returns its addresses and the commands' URL.
func startDaliIngest(t *testing.T, extra string) (app.Addrs, string) {
	t.Helper()
	dir := t.TempDir()
	writeSite(t, dir, "gw1")
	addDali(t, dir, "gw1", entity, "{lon: 11.25580, lat: 43.77310}")
	cfgYAML := fmt.Sprintf("sites: [gw1.yaml]\nprofiles: %s\ntwin:\n  areas: [%s]\n  tokens: [%s, %s]\n",
		abs(t, "../../firmware-profiles"), abs(t, "../../geo/data/firenze-metro-municipalities.geojson"), tokA, tokB) + extra
	cfg, _ := writeConfig(t, dir, "", cfgYAML, 1)
	addrs := start(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	return addrs, "http://" + addrs.HTTP + "/api/v1/commands"
}

// TestCommandsThroughTheBroker: through ingest with its embedded broker, a
// command for a site's writable point reaches the fake gateway's command
// topic; its reports make it applied with the read-back; the API shows
// the steps and the audit log every event in order, hash-chained. A
// command needing approval is not published until a second token
// approves it (the issuer's own token is refused).
func TestCommandsThroughTheBroker(t *testing.T) {
	testenv.Integration(t, "ingest with its embedded broker")
	addrs, base := startDaliIngest(t, "")
	gw := connectGateway(t, addrs.BrokerURL, "gw1")

	var pts command.Points
	apiJSON(t, "GET", base+"/points?entity="+entity, tokA, "", http.StatusOK, &pts)
	if pts.Gateway != "gw1" || pts.Device != "dali-1" || len(pts.Points) != 2 || pts.Points[1].Name != "line_on" || !pts.Points[1].Approval {
		t.Fatalf("points %+v", pts)
	}
	var onCmd, levelCmd command.Command
	apiJSON(t, "POST", base, tokA, `{"entity":"`+entity+`","point":"line_on","value":0,"reason":"prova notturna","operator":"Maria Rossi"}`, http.StatusAccepted, &onCmd)
	apiJSON(t, "POST", base, tokA, `{"entity":"`+entity+`","point":"line_level","value":40,"reason":"lavori stradali","operator":"Maria Rossi"}`, http.StatusAccepted, &levelCmd)
	if onCmd.State != command.AwaitingApproval || levelCmd.State != command.Queued {
		t.Fatalf("states %s, %s", onCmd.State, levelCmd.State)
	}
	// Commands of one publisher on one topic arrive in order: had line_on
	// been published, it would come first.
	got := gw.next(t)
	if got.ID != levelCmd.ID || got.Device != "dali-1" || got.Point != "line_level" || got.Value != 40 {
		t.Fatalf("the gateway received %+v, want the line_level command (line_on waits for approval)", got)
	}
	gw.report(t, got.ID, wire.StatusReceived, nil)
	rb := 40.0
	gw.report(t, got.ID, wire.StatusApplied, &rb)
	var c command.Command
	testenv.Eventually(t, 20*time.Second, "the command applied", func() bool {
		apiJSON(t, "GET", base+"/"+levelCmd.ID, tokB, "", http.StatusOK, &c)
		return c.State == command.Applied
	})
	var steps []string
	for _, s := range c.Steps {
		steps = append(steps, s.Status)
	}
	if c.Readback == nil || *c.Readback != 40 || !slices.Equal(steps, []string{"issued", "published", "received", "applied"}) {
		t.Fatalf("applied command: readback %v steps %v", c.Readback, steps)
	}

	if code, _, body := httpDo(t, "POST", base+"/"+onCmd.ID+"/approve", tokA, `{"operator":"Maria Rossi"}`); code != http.StatusConflict {
		t.Fatalf("the issuer approving: %d %s, want 409", code, body)
	}
	apiJSON(t, "POST", base+"/"+onCmd.ID+"/approve", tokB, `{"operator":"Luca Bianchi"}`, http.StatusOK, &c)
	if c.State != command.Queued || c.Approval == nil || c.Approval.Operator.Name != "Luca Bianchi" {
		t.Fatalf("approved: %+v", c)
	}
	if got := gw.next(t); got.ID != onCmd.ID || got.Point != "line_on" || got.Value != 0 {
		t.Fatalf("after approval the gateway received %+v", got)
	}

	var audit struct{ Entries []command.Entry }
	apiJSON(t, "GET", base+"/audit", tokA, "", http.StatusOK, &audit)
	var levelEvents []string
	for i, e := range audit.Entries {
		if e.Command == levelCmd.ID {
			levelEvents = append(levelEvents, e.Event)
		}
		if i == 0 {
			continue
		}
		line, _ := json.Marshal(audit.Entries[i-1])
		sum := sha256.Sum256(line)
		if e.Seq != audit.Entries[i-1].Seq+1 || e.Prev != hex.EncodeToString(sum[:]) {
			t.Fatalf("audit entry %d (seq %d) does not chain to the one before", i, e.Seq)
		}
	}
	if !slices.Equal(levelEvents, []string{"issued", "published", "received", "applied"}) {
		t.Fatalf("audit events of the applied command %v", levelEvents)
	}
}

// TestCommandsConfigApplied: the commands section's limits reach the
// service: with max_open_per_operator 1, an operator with a command
// awaiting approval is refused a second one (429) while another operator
// may still issue.
func TestCommandsConfigApplied(t *testing.T) {
	testenv.Integration(t, "ingest with its embedded broker")
	_, base := startDaliIngest(t, "commands:\n  max_open_per_operator: 1\n")
	body := `{"entity":"` + entity + `","point":"line_on","value":0,"reason":"prova","operator":"Maria Rossi"}`
	apiJSON(t, "POST", base, tokA, body, http.StatusAccepted, nil)
	if code, _, b := httpDo(t, "POST", base, tokA, body); code != http.StatusTooManyRequests {
		t.Errorf("a second open command of one operator: %d %s, want 429", code, b)
	}
	apiJSON(t, "POST", base, tokB, body, http.StatusAccepted, nil)
}
