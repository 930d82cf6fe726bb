package system_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// The commands' system (issue 16): ingest with its embedded broker, twin
// and commands; an edge agent whose uplink goes through a TCP proxy the
// test cuts; a DALI lighting line on ponte-sim's Modbus server; a WS558
// LoRaWAN light controller behind a real Mosquitto standing for
// ChirpStack's MQTT integration, which the test plays.
const (
	cmdGW        = "fi-cmd-01"
	daliDevice   = "fi-dali-cavour"
	daliEntity   = "urn:ngsi-ld:StreetlightControlCabinet:fi-dali-cavour"
	signDevice   = "fi-sign-parterre"
	signEntity   = "urn:ngsi-ld:Device:fi-sign-parterre"
	ws558Device  = "fi-ws558-lungarno"
	ws558Entity  = "urn:ngsi-ld:StreetlightControlCabinet:fi-ws558-lungarno"
	ws558DevEUI  = "24e124468d100558"
	ws558App     = "6d0b1f4e-3c2a-4e7b-9a51-0c8e2f7d4b19"
	secondToken  = "e2e-second-operator-token-0123"
	ingestUser   = "ponte-ingest"
	ingestSecret = "ingest-e2e-password-0123456789"
)

// cmdSystem is the running commands' system.
type cmdSystem struct {
	api      string
	unit     *sim.ModbusUnit
	sign     *sim.ModbusUnit // the Ditel display (a message sign)
	proxy    *testenv.Proxy
	ns       *testenv.Broker
	watch    *watcher
	auditDir string
}

// startDALI serves one Intesis DALI gateway (unit 1) on ponte-sim's
// Modbus TCP server until the test ends.
func startDALI(t testing.TB) (string, *sim.ModbusUnit) {
	return startModbusSim(t, "intesis-dali-modbus")
}

// startModbusSim serves the shipped profile (unit 1) on ponte-sim's
// Modbus TCP server until the test ends.
func startModbusSim(t testing.TB, profileName string) (string, *sim.ModbusUnit) {
	t.Helper()
	p, err := profile.Load("../../firmware-profiles/" + profileName + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	u, err := sim.NewModbusUnit(p, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	u.Update(time.Now())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sim.NewModbusServer(nil, u).ServeTCP(ctx, ln)
	}()
	t.Cleanup(func() { cancel(); ln.Close(); <-done })
	return ln.Addr().String(), u
}

// watcher is ingest's side of the broker as the test sees it: every
// command published and every report, by command ID.
type watcher struct {
	c       mqtt.Client
	topics  wire.Topics
	mu      sync.Mutex
	cmds    map[string][]byte
	reports map[string][]wire.Report
	applied chan string // when set, the ID of every applied report
}

// onApplied returns a channel that gets the ID of every applied report
// from now on.
func (w *watcher) onApplied() <-chan string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.applied = make(chan string, 1024)
	return w.applied
}

func watch(t testing.TB, brokerURL string, topics wire.Topics) *watcher {
	t.Helper()
	w := &watcher{topics: topics, cmds: map[string][]byte{}, reports: map[string][]wire.Report{}}
	c, err := ingesttest.Connect(brokerURL, "e2e-watch", ingestUser, ingestSecret)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(50) })
	w.c = c
	sub := func(filter string, f func([]byte)) {
		tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { f(m.Payload()) })
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", filter, tok.Error())
		}
	}
	sub(topics.Cmd(cmdGW), func(p []byte) {
		if c, err := wire.DecodeCommand(p); err == nil {
			w.mu.Lock()
			w.cmds[c.ID] = append([]byte(nil), p...)
			w.mu.Unlock()
		}
	})
	sub(topics.ReportFilter(), func(p []byte) {
		if r, err := wire.DecodeReport(p); err == nil {
			w.mu.Lock()
			w.reports[r.ID] = append(w.reports[r.ID], *r)
			if w.applied != nil && r.Status == wire.StatusApplied {
				w.applied <- r.ID
			}
			w.mu.Unlock()
		}
	})
	return w
}

// report returns the reports of command id with status s.
func (w *watcher) report(id string, s wire.CommandStatus) (wire.Report, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.reports[id] {
		if r.Status == s {
			return r, true
		}
	}
	return wire.Report{}, false
}

func (w *watcher) command(id string) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cmds[id]
}

// publishCmd publishes payload on the gateway's command topic as ingest
// startCommandsIngest runs ingest for the commands' tests: its broker with
// the ingest user, gateway gw, the site config site.yaml in dir, the
// Firenze municipalities, both operators' tokens, quick grace and resends,
// then extra (more top-level sections).
func startCommandsIngest(t testing.TB, dir, gw, extra string) (app.Addrs, *config.Config) {
	t.Helper()
	return startIngestYAML(t, dir, fmt.Sprintf("  username: %s\n  password: %s\n", ingestUser, ingestSecret), []string{gw},
		fmt.Sprintf(`sites: [site.yaml]
profiles: %s
twin:
  areas: [%s]
  stale_factor: 10
  tokens: [%s, %s]
commands:
  grace: 1s
  resend: 1s
%s`, absPath(t, "../../firmware-profiles"), absPath(t, "../../geo/data/firenze-metro-municipalities.geojson"), e2eToken, secondToken, extra))
}

// (the broker's ingest user) would.
func (w *watcher) publishCmd(t testing.TB, payload []byte) {
	t.Helper()
	if tok := w.c.Publish(w.topics.Cmd(cmdGW), 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish command: %v", tok.Error())
	}
}

func startCommands(t testing.TB, extra string) *cmdSystem {
	t.Helper()
	dir := t.TempDir()
	daliAddr, unit := startDALI(t)
	signAddr, sign := startModbusSim(t, "ditel-dn-display-modbus")
	ns := testenv.Mosquitto(t)
	site := siteHeader(cmdGW, "tcp://127.0.0.1:1883", e2ePassword(cmdGW), filepath.Join(dir, "buffer")) + fmt.Sprintf(`  - name: %s
    profile: intesis-dali-modbus
    address: "tcp://%s"
    unit: 1
    interval: 1s
    location: {lon: 11.25900, lat: 43.77700}
    entity: %s
  - name: %s
    profile: ditel-dn-display-modbus
    address: "tcp://%s"
    unit: 1
    interval: 1s
    location: {lon: 11.24600, lat: 43.78500}
    entity: %s
  - name: %s
    profile: milesight-ws558-chirpstack
    address: %q
    id: %q
    interval: 1h
    location: {lon: 11.25300, lat: 43.76800}
    entity: %s
`, daliDevice, daliAddr, daliEntity, signDevice, signAddr, signEntity, ws558Device, ns.URL, ws558DevEUI, ws558Entity)
	sitePath := filepath.Join(dir, "site.yaml")
	testenv.WriteFile(t, sitePath, site)
	ing, cfg := startCommandsIngest(t, dir, cmdGW, extra)
	proxy := testenv.StartProxy(t, strings.TrimPrefix(ing.BrokerURL, "tcp://"))
	testenv.WriteFile(t, sitePath, strings.Replace(site, "tcp://127.0.0.1:1883", "tcp://"+proxy.Addr(), 1))
	w := watch(t, ing.BrokerURL, cfg.Topics())
	startAgent(t, sitePath)
	s := &cmdSystem{api: "http://" + ing.HTTP, unit: unit, sign: sign, proxy: proxy, ns: ns, watch: w, auditDir: filepath.Join(dir, "state", "commands")}
	// The DALI line polled and on the twin.
	testenv.Eventually(t, 30*time.Second, "the DALI line on the twin", func() bool {
		var e struct {
			Attrs map[string]any `json:"attributes"`
		}
		code, body := s.do(t, "GET", "/api/v1/entities/"+daliEntity, e2eToken, "")
		return code == http.StatusOK && json.Unmarshal([]byte(body), &e) == nil && strings.Contains(body, "line_level")
	})
	return s
}

// do makes an API request and returns its status and body.
func (s *cmdSystem) do(t testing.TB, method, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.api+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// apiCommand is the API's command, as much as the test reads.
type apiCommand struct {
	ID       string   `json:"id"`
	State    string   `json:"state"`
	Readback *float64 `json:"readback"`
	Detail   string   `json:"detail"`
	Steps    []struct {
		Status string `json:"status"`
	} `json:"steps"`
}

// issue posts a command and returns it (202 expected).
func (s *cmdSystem) issue(t testing.TB, token, entity, point string, value float64, extra string) apiCommand {
	t.Helper()
	body := fmt.Sprintf(`{"entity":%q,"point":%q,"value":%g,"reason":"prova di regolazione","operator":"Maria Rossi"%s}`, entity, point, value, extra)
	code, resp := s.do(t, "POST", "/api/v1/commands", token, body)
	var c apiCommand
	if code != http.StatusAccepted || json.Unmarshal([]byte(resp), &c) != nil || c.ID == "" {
		t.Fatalf("issue %s=%g: %d %s", point, value, code, resp)
	}
	return c
}

// get returns command id as the API shows it.
func (s *cmdSystem) get(t testing.TB, id string) apiCommand {
	t.Helper()
	code, body := s.do(t, "GET", "/api/v1/commands/"+id, e2eToken, "")
	var c apiCommand
	if code != http.StatusOK || json.Unmarshal([]byte(body), &c) != nil {
		t.Fatalf("command %s: %d %s", id, code, body)
	}
	return c
}

// until waits for command id to reach state.
func (s *cmdSystem) until(t testing.TB, id, state string, within time.Duration) apiCommand {
	t.Helper()
	var c apiCommand
	testenv.Eventually(t, within, "command "+id+" "+state, func() bool {
		c = s.get(t, id)
		return c.State == state
	})
	return c
}

// edgeRefusal publishes c, issued now and expiring in a minute, on the
// gateway's command topic as if ingest had sent it, and returns the
// edge's refused report.
func (s *cmdSystem) edgeRefusal(t testing.TB, c wire.Command) wire.Report {
	t.Helper()
	c.Issued = time.Now().UTC()
	c.Expires = c.Issued.Add(time.Minute)
	payload, err := wire.EncodeCommand(&c)
	if err != nil {
		t.Fatal(err)
	}
	s.watch.publishCmd(t, payload)
	var r wire.Report
	testenv.Eventually(t, 20*time.Second, "the edge's refusal of "+c.ID, func() bool {
		var ok bool
		r, ok = s.watch.report(c.ID, wire.StatusRefused)
		return ok
	})
	return r
}

// uplink publishes a WS558 uplink as ChirpStack would, with the switches'
// states.
func (s *cmdSystem) uplink(t testing.TB, pub mqtt.Client, sw1 string) {
	t.Helper()
	b, err := os.ReadFile("../../edge/source/mqtt/testdata/chirpstack_v4_ws558.json")
	if err != nil {
		t.Fatal(err)
	}
	up := strings.Replace(string(b), `"switch_1": "on"`, `"switch_1": "`+sw1+`"`, 1)
	up = strings.Replace(up, `"2024-05-14T19:05:41.220318Z"`, `"`+time.Now().UTC().Format(time.RFC3339Nano)+`"`, 1)
	topic := "application/" + ws558App + "/device/" + ws558DevEUI + "/event/up"
	if tok := pub.Publish(topic, 1, false, []byte(up)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("uplink: %v", tok.Error())
	}
}

// TestCommandsEndToEnd: an operator's command through the API, ingest,
// the broker, the edge and the device, on real parts (issue 16).
func TestCommandsEndToEnd(t *testing.T) {
	testenv.Integration(t, "ingest, an edge agent, ponte-sim and Mosquitto")
	s := startCommands(t, "")

	t.Run("dimming applied over Modbus TCP", func(t *testing.T) {
		code, body := s.do(t, "GET", "/api/v1/commands/points?entity="+daliEntity, e2eToken, "")
		if code != http.StatusOK || !strings.Contains(body, `"line_level"`) || !strings.Contains(body, `"line_on"`) || strings.Contains(body, `"lamp0_level"`) {
			t.Fatalf("writable points: %d %s", code, body)
		}
		c := s.issue(t, e2eToken, daliEntity, "line_level", 40, "")
		c = s.until(t, c.ID, "applied", 30*time.Second)
		if c.Readback == nil || *c.Readback != 40 {
			t.Errorf("applied with read-back %v, want 40", c.Readback)
		}
		if n := s.unit.Writes()["line_level"]; n != 1 {
			t.Errorf("the device was written %d times, want 1", n)
		}
		if r, ok := s.watch.report(c.ID, wire.StatusApplied); !ok || r.Gateway != cmdGW || r.Readback == nil || *r.Readback != 40 {
			t.Errorf("the gateway's applied report: %+v %v", r, ok)
		}
	})

	t.Run("out of range refused by ingest and by the edge", func(t *testing.T) {
		before := s.unit.Writes()["line_level"]
		code, body := s.do(t, "POST", "/api/v1/commands", e2eToken, fmt.Sprintf(`{"entity":%q,"point":"line_level","value":120,"reason":"prova","operator":"Maria Rossi"}`, daliEntity))
		if code != http.StatusBadRequest || !strings.Contains(body, "maximum 100") {
			t.Errorf("ingest: %d %s, want 400 naming the maximum", code, body)
		}
		// A command ingest would not send, published on the gateway's
		// topic as if ingest had: the edge checks it again.
		r := s.edgeRefusal(t, wire.Command{ID: "e2e-out-of-range", Device: daliDevice, Point: "line_level", Value: 120})
		if !strings.Contains(r.Detail, "maximum 100") {
			t.Errorf("refusal detail %q, want the maximum", r.Detail)
		}
		if n := s.unit.Writes()["line_level"]; n != before {
			t.Errorf("writes %d after refusals, want %d", n, before)
		}
	})

	t.Run("approval by a second operator", func(t *testing.T) {
		c := s.issue(t, e2eToken, daliEntity, "line_on", 0, "")
		if c.State != "awaiting_approval" {
			t.Fatalf("line_on=0: state %s, want awaiting_approval", c.State)
		}
		if s.watch.command(c.ID) != nil || s.unit.Writes()["line_on"] != 0 {
			t.Fatal("published before its approval")
		}
		if code, body := s.do(t, "POST", "/api/v1/commands/"+c.ID+"/approve", e2eToken, `{"operator":"Maria Rossi"}`); code != http.StatusConflict {
			t.Errorf("the issuer approves: %d %s, want 409", code, body)
		}
		if code, body := s.do(t, "POST", "/api/v1/commands/"+c.ID+"/approve", secondToken, `{"operator":"Luca Bianchi"}`); code != http.StatusOK {
			t.Fatalf("a second operator approves: %d %s", code, body)
		}
		c = s.until(t, c.ID, "applied", 30*time.Second)
		if c.Readback == nil || *c.Readback != 0 || s.unit.Writes()["line_on"] != 1 {
			t.Errorf("line_on applied with read-back %v, %d writes", c.Readback, s.unit.Writes()["line_on"])
		}
	})

	t.Run("a command sent while the link is cut expires and is never applied", func(t *testing.T) {
		before := s.unit.Writes()["line_level"]
		s.proxy.Cut()
		c := s.issue(t, e2eToken, daliEntity, "line_level", 30, `,"expires_in":"2s"`)
		s.until(t, c.ID, "expired", 30*time.Second)
		payload := s.watch.command(c.ID)
		if payload == nil {
			t.Fatal("ingest never published the command")
		}
		s.proxy.Heal()
		// The broker delivers a command held for the gateway late: the
		// edge refuses to start it after its expiry. (Published until the
		// gateway, reconnecting, answers: its session is clean, and it
		// answers a repeat with the report it kept.)
		testenv.Eventually(t, 30*time.Second, "the edge's expired report", func() bool {
			s.watch.publishCmd(t, payload)
			_, ok := s.watch.report(c.ID, wire.StatusExpired)
			return ok
		})
		if _, ok := s.watch.report(c.ID, wire.StatusApplied); ok || s.unit.Writes()["line_level"] != before {
			t.Errorf("applied after its expiry (%d writes, want %d)", s.unit.Writes()["line_level"], before)
		}
		if got := s.get(t, c.ID); got.State != "expired" {
			t.Errorf("state %s after the late report, want expired", got.State)
		}
	})

	t.Run("a LoRaWAN downlink on ChirpStack's documented topic", func(t *testing.T) {
		ns, err := ingesttest.Connect(s.ns.URL, "chirpstack", "", "")
		if err != nil {
			t.Fatal(err)
		}
		defer ns.Disconnect(50)
		downs := make(chan mqtt.Message, 4)
		downTopic := "application/" + ws558App + "/device/" + ws558DevEUI + "/command/down"
		if tok := ns.Subscribe(downTopic, 1, func(_ mqtt.Client, m mqtt.Message) { downs <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		// The device's first uplink gives the agent the downlink topic.
		s.uplink(t, ns, "on")
		testenv.Eventually(t, 30*time.Second, "the WS558 on the twin", func() bool {
			code, body := s.do(t, "GET", "/api/v1/entities/"+ws558Entity, e2eToken, "")
			return code == http.StatusOK && strings.Contains(body, "switch_1")
		})
		c := s.issue(t, e2eToken, ws558Entity, "switch_1", 0, "")
		if code, body := s.do(t, "POST", "/api/v1/commands/"+c.ID+"/approve", secondToken, `{"operator":"Luca Bianchi"}`); code != http.StatusOK {
			t.Fatalf("approve: %d %s", code, body)
		}
		var m mqtt.Message
		select {
		case m = <-downs:
		case <-time.After(30 * time.Second):
			t.Fatal("no downlink on " + downTopic)
		}
		var down struct {
			DevEUI    string `json:"devEui"`
			Confirmed bool   `json:"confirmed"`
			FPort     int    `json:"fPort"`
			Data      []byte `json:"data"`
		}
		if err := json.Unmarshal(m.Payload(), &down); err != nil || down.DevEUI != ws558DevEUI || down.FPort != 85 || !bytes.Equal(down.Data, []byte{0x08, 0x01, 0x00}) {
			t.Fatalf("downlink %s: %+v %v, want devEui %s fPort 85 data 080100", m.Payload(), down, err, ws558DevEUI)
		}
		s.until(t, c.ID, "sent", 20*time.Second)
		// The controller switches the circuit off and reports it.
		s.uplink(t, ns, "off")
		c = s.until(t, c.ID, "applied", 30*time.Second)
		if c.Readback == nil || *c.Readback != 0 {
			t.Errorf("switch_1 applied with read-back %v, want 0", c.Readback)
		}
	})

	t.Run("every step in the audit log, a hash chain", func(t *testing.T) {
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
		events := map[string][]string{}
		for _, e := range audit.Entries {
			events[e.Command] = append(events[e.Command], e.Event)
		}
		var applied, approved, expired int
		for _, evs := range events {
			seq := strings.Join(evs, ",")
			switch {
			case strings.HasPrefix(seq, "issued,approved,published") && strings.Contains(seq, "applied"):
				approved++
			case strings.HasPrefix(seq, "issued,published") && strings.Contains(seq, ",received,applied"):
				applied++
			case strings.HasPrefix(seq, "issued,published") && strings.Contains(seq, "expired"):
				expired++
			}
		}
		if applied != 1 || approved != 2 || expired != 1 {
			t.Errorf("audit: %d applied, %d approved then applied, %d expired; want 1, 2, 1: %v", applied, approved, expired, events)
		}
		// Each line names the SHA-256 of the line before it.
		files, _ := filepath.Glob(filepath.Join(s.auditDir, "*.jsonl"))
		if len(files) == 0 {
			t.Fatalf("no audit file in %s", s.auditDir)
		}
		f, err := os.Open(files[len(files)-1])
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		prev, n := "", 0
		for sc.Scan() {
			var e struct {
				Prev string `json:"prev"`
			}
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("audit line %d: %v", n+1, err)
			}
			if n > 0 && e.Prev != prev {
				t.Fatalf("audit line %d: prev %s, want %s", n+1, e.Prev, prev)
			}
			sum := sha256.Sum256(sc.Bytes())
			prev, n = hex.EncodeToString(sum[:]), n+1
		}
		if n < len(audit.Entries) {
			t.Errorf("%d lines in the audit file, %d entries in the API", n, len(audit.Entries))
		}
	})
}
