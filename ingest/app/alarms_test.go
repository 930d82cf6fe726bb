package app_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin/alarms"
	"github.com/ponte-city/ponte/wire"
)

const airEntity = "urn:ngsi-ld:AirQualityObserved:fi-gramsci"

// twinWithAirStation writes gw1's site config (an air-quality station on
// Viale Gramsci, Firenze) and returns the twin section for writeConfig's
// extra, with the shipped alarm rules and one turned off.
func twinWithAirStation(t testing.TB, dir string) string {
	t.Helper()
	site := fmt.Sprintf(`gateway:
  id: gw1
uplink:
  broker: tcp://127.0.0.1:1883
buffer:
  dir: %s
devices:
  - name: aqt-1
    profile: vaisala-aqt420
    address: tcp://127.0.0.1:502
    unit: 1
    interval: 60s
    location: {lon: 11.2700, lat: 43.7760}
    entity: %s
`, filepath.Join(dir, "buf"), airEntity)
	if err := os.WriteFile(filepath.Join(dir, "site.yaml"), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("sites: [site.yaml]\nprofiles: %s\ntwin:\n  areas: [%s]\n  tokens: [operator-token-0123456789]\n  alarms:\n    rules:\n      - {id: noise-class-iv-day, enabled: false}\n",
		abs(t, "../../firmware-profiles"), abs(t, "../../geo/data/firenze-metro-municipalities.geojson"))
}

// TestAlarmRaisedAckedCleared: a gateway's pm10 readings above the EU
// daily limit raise the shipped alarm, which operators see on
// /api/v1/alarms and its stream, acknowledge (a stranger cannot), and
// which closes when readings bring the mean back under; it is still
// there, acknowledged, after ingest restarts.
func TestAlarmRaisedAckedCleared(t *testing.T) {
	testenv.Integration(t, "ingest with its embedded broker")
	dir := t.TempDir()
	cfg, _ := writeConfig(t, dir, "", twinWithAirStation(t, dir), 1)
	addrs, stop := runUntil(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	base := "http://" + addrs.HTTP
	const tok = "operator-token-0123456789"
	do := func(method, path, token, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	list := func(query string) alarms.List {
		t.Helper()
		code, body := do("GET", "/api/v1/alarms"+query, tok, "")
		var l alarms.List
		if err := json.Unmarshal([]byte(body), &l); code != 200 || err != nil {
			t.Fatalf("alarms%s: %d %s", query, code, body)
		}
		return l
	}

	gw, err := ingesttest.Connect(addrs.BrokerURL, "gw1", "gw1", password("gw1"))
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Disconnect(50)
	publish := func(seq uint64, pm10 float64, at time.Time) {
		t.Helper()
		b := &wire.Batch{Gateway: "gw1", Epoch: 3, Seqs: []uint64{seq},
			Readings: []wire.Reading{{Device: "aqt-1", Point: "pm10", Value: wire.Float(pm10), Unit: "ug/m3", Time: at}}}
		data, err := wire.Encode(nil, b)
		if err != nil {
			t.Fatal(err)
		}
		if tk := gw.Publish(cfg.Topics().Up("gw1"), 1, false, data); !tk.WaitTimeout(5*time.Second) || tk.Error() != nil {
			t.Fatal(tk.Error())
		}
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	publish(1, 80, now.Add(-time.Minute))

	var raised alarms.Alarm
	testenv.Eventually(t, 10*time.Second, "the pm10 alarm on /api/v1/alarms", func() bool {
		l := list("")
		if len(l.Alarms) == 1 {
			raised = l.Alarms[0]
		}
		return len(l.Alarms) == 1
	})
	if raised.Rule != "eu-pm10-daily" || raised.Entity != airEntity || raised.State != alarms.Raised || raised.ValueAtRaise != 80 ||
		raised.Area != "048017" || raised.Label.IT == "" || raised.Location == nil {
		t.Fatalf("alarm %+v", raised)
	}
	if code, body := do("GET", "/api/v1/alarms/"+raised.ID, tok, ""); code != 200 || !strings.Contains(body, `"state":"raised"`) {
		t.Errorf("one alarm: %d %s", code, body)
	}

	// Strangers see and acknowledge nothing.
	for _, token := range []string{"", "not-the-operator-token-0000"} {
		if code, _ := do("GET", "/api/v1/alarms", token, ""); code != http.StatusUnauthorized {
			t.Errorf("list with token %q: %d, want 401", token, code)
		}
		if code, _ := do("POST", "/api/v1/alarms/"+raised.ID+"/ack", token, `{"operator":"Mallory"}`); code != http.StatusUnauthorized {
			t.Errorf("ack with token %q: %d, want 401", token, code)
		}
	}
	if a := list("").Alarms[0]; a.State != alarms.Raised {
		t.Fatalf("a stranger's ack changed the alarm: %+v", a)
	}

	// The map's stream (a ticket in its URL, as an EventSource opens it;
	// a token there is refused) gets the open alarms, then the
	// acknowledgement.
	if resp, err := http.Get(base + "/api/v1/alarms/stream?token=" + tok); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the alarms' stream with a token in its URL: %v %v, want 401", resp, err)
	}
	treq, _ := http.NewRequest(http.MethodPost, base+"/api/v1/stream/ticket", nil)
	treq.Header.Set("Authorization", "Bearer "+tok)
	tresp, err := http.DefaultClient.Do(treq)
	if err != nil {
		t.Fatal(err)
	}
	var ticket struct {
		Ticket string `json:"ticket"`
	}
	json.NewDecoder(tresp.Body).Decode(&ticket)
	tresp.Body.Close()
	resp, err := http.Get(base + "/api/v1/alarms/stream?ticket=" + ticket.Ticket)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the alarms' stream with a ticket: %v %v", resp, err)
	}
	defer resp.Body.Close()
	events := bufio.NewReader(resp.Body)
	next := func() (string, string) {
		t.Helper()
		var event, data string
		for {
			line, err := events.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				event = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			case line == "" && event != "":
				return event, data
			}
		}
	}
	if ev, data := next(); ev != "alarms" || !strings.Contains(data, raised.ID) {
		t.Fatalf("stream's first event: %s %s", ev, data)
	}

	code, body := do("POST", "/api/v1/alarms/"+raised.ID+"/ack", tok, `{"operator":"Maria Rossi","note":"verificato"}`)
	var acked alarms.Alarm
	if err := json.Unmarshal([]byte(body), &acked); code != 200 || err != nil || acked.State != alarms.Acknowledged ||
		acked.Acknowledged == nil || acked.Acknowledged.By != "Maria Rossi" || !strings.HasPrefix(acked.Acknowledged.Remote, "127.0.0.1:") {
		t.Fatalf("ack: %d %s", code, body)
	}
	if ev, data := next(); ev != "alarm" || !strings.Contains(data, `"type":"acknowledged"`) {
		t.Fatalf("stream after the ack: %s %s", ev, data)
	}

	// A reading of 5: the 24-hour mean is (80+5)/2 = 42.5, back under
	// 50 - 5 (the hysteresis); acknowledged, the alarm closes.
	publish(2, 5, now)
	if ev, data := next(); ev != "alarm" || !strings.Contains(data, `"type":"closed"`) {
		t.Fatalf("stream after the clearing reading: %s %s", ev, data)
	}
	if l := list(""); len(l.Alarms) != 0 || l.Open[alarms.Major] != 0 {
		t.Fatalf("open after clearing: %+v", l)
	}
	if l := list("?state=closed"); len(l.Alarms) != 1 || l.Alarms[0].ID != raised.ID || l.Alarms[0].ClearedAt == nil {
		t.Fatalf("closed: %+v", l)
	}
	if m := metricsText(t, addrs); !strings.Contains(m, `ponte_twin_alarms_raised_total{severity="major"} 1`) {
		t.Errorf("metrics lack the raised alarm")
	}
	resp.Body.Close()

	// Kept across a restart.
	stop()
	addrs, _ = runUntil(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	base = "http://" + addrs.HTTP
	l := list("?state=all")
	if len(l.Alarms) != 1 || l.Alarms[0].ID != raised.ID || l.Alarms[0].State != alarms.Closed || l.Alarms[0].Acknowledged == nil ||
		l.Alarms[0].Acknowledged.By != "Maria Rossi" || l.Alarms[0].Acknowledged.Note != "verificato" {
		t.Fatalf("after restart: %+v", l)
	}
}
