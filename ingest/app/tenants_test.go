package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin/api"
	"github.com/ponte-city/ponte/wire"
)

// Tokens of TestTenantsOnEveryRoute.
const (
	cityToken    = "city-operator-token-000001"
	bariToken    = "bari-operator-token-000001"
	firenzeToken = "firenze-operator-token-001"
)

// twoCities writes two gateways' site configs, gw1 with an energy meter at
// Piazza del Duomo in Firenze and gw2 with one in Piazza Aldo Moro in
// Bari, and returns ingest's twin, alarms and tenants sections: Bari's and
// Firenze's municipalities as two tenants.
func twoCities(t testing.TB, dir string) string {
	t.Helper()
	for _, s := range []struct{ gw, entity, where string }{
		{"gw1", "urn:ngsi-ld:Streetlight:fi-duomo-meter", "{lon: 11.25580, lat: 43.77310}"},
		{"gw2", "urn:ngsi-ld:Streetlight:ba-moro-meter", "{lon: 16.87160, lat: 41.11770}"},
	} {
		y := fmt.Sprintf("gateway:\n  id: %s\nuplink:\n  broker: tcp://127.0.0.1:1883\nbuffer:\n  dir: %s\ndevices:\n  - name: meter-1\n    profile: eastron-sdm630-v2\n    address: tcp://127.0.0.1:502\n    unit: 1\n    interval: 10s\n    location: %s\n    entity: %s\n",
			s.gw, filepath.Join(dir, "buf-"+s.gw), s.where, s.entity)
		if err := os.WriteFile(filepath.Join(dir, s.gw+".yaml"), []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf(`sites: [gw1.yaml, gw2.yaml]
profiles: %s
twin:
  areas: [%s, %s]
  tokens: [%s]
  alarms:
    defaults: false
    rules:
      - {id: overload, category: energy, point: power, above: 20000, severity: major, unit: W, label: {it: "Quadro oltre 20 kW", en: "Cabinet above 20 kW"}}
tenants:
  - {id: firenze, name: Comune di Firenze, areas: ["048017"], gateways: [gw1], tokens: [%s]}
  - {id: bari, name: Comune di Bari, areas: ["072006"], gateways: [gw2], tokens: [%s]}
`, abs(t, "../../firmware-profiles"), abs(t, "../../geo/data/firenze-metro-municipalities.geojson"),
		abs(t, "../../geo/data/bari-metro-municipalities.geojson"), cityToken, firenzeToken, bariToken)
}

// TestTenantsOnEveryRoute: a Bari operator's token reaches nothing of
// Firenze on any operator route of the API (each route of the API's table
// is tried), while the city's token and Firenze's reach it; and Firenze's
// token nothing of Bari.
func TestTenantsOnEveryRoute(t *testing.T) {
	testenv.Integration(t, "ingest with its embedded broker, InfluxDB 1.8")
	dir := t.TempDir()
	recv := newReceiver(t)
	extra := twoCities(t, dir)
	// A DALI line on each gateway: Firenze's commands (issue 16).
	const fiDali, baDali = "urn:ngsi-ld:StreetlightControlCabinet:fi-duomo-dali", "urn:ngsi-ld:StreetlightControlCabinet:ba-moro-dali"
	addDali(t, dir, "gw1", fiDali, "{lon: 11.25590, lat: 43.77320}")
	addDali(t, dir, "gw2", baDali, "{lon: 16.87170, lat: 41.11780}")
	cfg, _ := writeConfig(t, dir, "", withSubscriptions(t, extra, recv.URL), 2)
	// A real InfluxDB answers the snapshot and history routes (the
	// readings themselves go to a memory sink).
	srv := influxtest.Start(t)
	cfg.Influx.URL, cfg.Influx.Bucket = srv.URL, srv.Bucket
	addrs := start(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	const fiSite, baSite = "urn:ngsi-ld:Streetlight:fi-duomo-meter", "urn:ngsi-ld:Streetlight:ba-moro-meter"
	base := "http://" + addrs.HTTP
	const fiSub = "urn:ngsi-ld:Subscription:fi-lights"
	createSub(t, base, firenzeToken, streetlightSub(fiSub, recv.URL+"/firenze"))

	do := func(method, path, token, body string) (int, string) {
		code, _, b := httpDo(t, method, base+path, token, body)
		return code, b
	}

	// A gateway reports 25 kW (each time with the next sequence number):
	// its site gets an overload alarm.
	topics := cfg.Topics()
	now := time.Now().UTC().Truncate(time.Millisecond)
	seqs := map[string]uint64{}
	publish := func(gwID string) {
		gw, err := ingesttest.Connect(addrs.BrokerURL, gwID, gwID, password(gwID))
		if err != nil {
			t.Fatal(err)
		}
		defer gw.Disconnect(50)
		seqs[gwID]++
		at := now.Add(time.Duration(seqs[gwID]) * time.Second)
		data, _ := wire.Encode(nil, &wire.Batch{Gateway: gwID, Epoch: 7, Seqs: []uint64{seqs[gwID]},
			Readings: []wire.Reading{{Device: "meter-1", Point: "total_power", Value: wire.Float(25000), Unit: "W", Time: at}}})
		if tok := gw.Publish(topics.Up(gwID), 1, false, data); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	publish("gw1")
	publish("gw2")
	var fiAlarm, baAlarm string
	testenv.Eventually(t, 20*time.Second, "an alarm on each site", func() bool {
		_, body := do("GET", "/api/v1/alarms", cityToken, "")
		fiAlarm, baAlarm = alarmID(body, fiSite), alarmID(body, baSite)
		return fiAlarm != "" && baAlarm != ""
	})

	// Two commands of Firenze's line awaiting approval (the city's
	// operator issued them: Firenze's may approve or reject them).
	fiCmds := map[string]string{}
	for _, act := range []string{"approve", "reject"} {
		var c struct{ ID string }
		code, _, body := httpDo(t, "POST", base+"/api/v1/commands", cityToken, `{"entity":"`+fiDali+`","point":"line_on","value":1,"reason":"prova","operator":"Città"}`)
		if code != http.StatusAccepted || json.Unmarshal([]byte(body), &c) != nil {
			t.Fatalf("the city's command: %d %s", code, body)
		}
		fiCmds[act] = c.ID
	}

	// Every route of the API's table, with its path parameters naming
	// Firenze's site or alarm.
	for _, route := range api.Routes() {
		method, path, _ := strings.Cut(route, " ")
		if api.RouteScope(route) == api.ScopePublic {
			continue
		}
		// A sites' tile at street zoom over Firenze's site (11.2558, 43.7731).
		duomo := maptile.At(orb.Point{11.2558, 43.7731}, 16)
		path = strings.NewReplacer("{id}", fiSite, "{type}", "Streetlight",
			"{z}", fmt.Sprint(duomo.Z), "{x}", fmt.Sprint(duomo.X), "{y}", fmt.Sprint(duomo.Y)).Replace(path)
		if strings.HasPrefix(path, "/api/v1/alarms/") {
			path = strings.Replace(path, fiSite, fiAlarm, 1)
		}
		switch {
		case strings.HasSuffix(path, "/history"):
			path += "?entity=" + fiSite + "&point=power&from=" + now.Add(-time.Hour).Format(time.RFC3339) + "&to=" + now.Add(time.Minute).Format(time.RFC3339)
		case strings.HasSuffix(path, "/ngsi-ld/v1/entities"), strings.HasSuffix(path, "/ngsi-ld/v1/temporal/entities"):
			path += "?type=Streetlight"
		case strings.HasSuffix(path, "/snapshot"):
			path += "?at=" + now.Format(time.RFC3339)
		}
		t.Run(route, func(t *testing.T) {
			if code, _ := do(method, path, "", ""); code != http.StatusUnauthorized {
				t.Errorf("a stranger: %d, want 401", code)
			}
			switch {
			case strings.HasPrefix(path, "/api/v1/commands"):
				commandRouteScoped(t, do, method, path, fiDali, baDali, fiCmds)
				return
			case strings.HasPrefix(path, subsPath):
				subscriptionRouteScoped(t, base, method, strings.Replace(path, fiSite, fiSub, 1), fiSub, recv.URL+"/bari")
				return
			case strings.HasSuffix(path, "/stream"):
				// The stream's first events are the entities' state as
				// changes arrive: Bari's token gets Bari's and never
				// Firenze's.
				for _, c := range []struct{ token, want, not, notGW, wantGW string }{
					{bariToken, baSite, fiSite, "gw1", "gw2"}, {firenzeToken, fiSite, baSite, "gw2", "gw1"}} {
					streamSees(t, base+path, c.token, c.want, c.not, func() { publish(c.notGW); publish(c.wantGW) })
				}
				return
			case method == "POST" && strings.HasSuffix(path, "/ack"):
				code, body := do(method, path, bariToken, `{"operator":"Bari"}`)
				if code != http.StatusNotFound || strings.Contains(body, fiSite) {
					t.Errorf("Bari acknowledges Firenze's alarm: %d %s", code, body)
				}
				code, _ = do(method, path, firenzeToken, `{"operator":"Firenze"}`)
				if code != http.StatusOK {
					t.Errorf("Firenze acknowledges its alarm: %d, want 200", code)
				}
				return
			case method == "POST":
				code, body := do(method, path, bariToken, "")
				if code != http.StatusOK || strings.Contains(body, fiSite) {
					t.Errorf("%d %s", code, body)
				}
				return
			}
			code, body := do(method, path, bariToken, "")
			if code != http.StatusNotFound && (strings.Contains(body, fiSite) || strings.Contains(body, `"gw1"`) || strings.Contains(body, fiAlarm)) {
				t.Errorf("Bari's token sees Firenze: %d %.400s", code, body)
			}
			cityCode, cityBody := do(method, path, cityToken, "")
			fiCode, fiBody := do(method, path, firenzeToken, "")
			if strings.Contains(path, fiSite) || strings.Contains(path, fiAlarm) {
				// One entity, alarm or series of Firenze: missing for Bari,
				// there (or failing for another reason than not found) for
				// Firenze and the city.
				if code != http.StatusNotFound {
					t.Errorf("Bari's token: %d, want 404", code)
				}
				if cityCode == http.StatusNotFound || fiCode == http.StatusNotFound {
					t.Errorf("city %d, Firenze %d: want the resource found", cityCode, fiCode)
				}
				return
			}
			if code != http.StatusOK && code != http.StatusNotImplemented && code != http.StatusServiceUnavailable {
				t.Errorf("Bari's token: %d %.300s", code, body)
			}
			if strings.HasSuffix(path, "/tiles/sites.json") {
				// Counts and a frame, no IDs: Bari's and Firenze's add up to
				// the city's, and Bari's frame lies in Bari.
				var city, fi, ba struct {
					Sites int
					Frame []float64
				}
				for _, c := range []struct {
					body string
					v    any
				}{{cityBody, &city}, {fiBody, &fi}, {body, &ba}} {
					if err := json.Unmarshal([]byte(c.body), c.v); err != nil {
						t.Fatalf("%v: %s", err, c.body)
					}
				}
				if fi.Sites == 0 || ba.Sites == 0 || fi.Sites+ba.Sites != city.Sites || len(ba.Frame) != 4 || ba.Frame[0] < 16 {
					t.Errorf("sites counted: city %+v, Firenze %+v, Bari %+v", city, fi, ba)
				}
				return
			}
			if strings.Contains(path, "/ngsi-ld/v1/types") {
				// Types name no entity: one Streetlight each for Bari and
				// Firenze, two for the city.
				if strings.HasSuffix(path, "/Streetlight") && (!strings.Contains(body, `"entityCount":1`) || !strings.Contains(cityBody, `"entityCount":2`)) {
					t.Errorf("Streetlights counted for Bari: %.200s; for the city: %.200s", body, cityBody)
				}
				return
			}
			if code == http.StatusOK && !strings.Contains(cityBody, fiSite) && !strings.Contains(cityBody, "gw1") && !strings.Contains(cityBody, fiAlarm) {
				t.Errorf("the city's token does not see Firenze either (the check could not fail): %.300s", cityBody)
			}
			if strings.Contains(fiBody, baSite) || strings.Contains(fiBody, `"gw2"`) || strings.Contains(fiBody, baAlarm) {
				t.Errorf("Firenze's token sees Bari: %.300s", fiBody)
			}
		})
	}
}

// commandRouteScoped checks one commands' route (issue 16): Bari's token
// can neither issue, see, approve nor reject a command of Firenze's DALI
// line (404, or lists without it); Firenze's token can.
func commandRouteScoped(t *testing.T, do func(method, path, token, body string) (int, string), method, path, fiDali, baDali string, fiCmds map[string]string) {
	t.Helper()
	cmdID := fiCmds["approve"]
	if strings.HasSuffix(path, "/reject") {
		cmdID = fiCmds["reject"]
	}
	path = strings.Replace(path, "{id}", cmdID, 1)
	path = strings.Replace(path, "urn:ngsi-ld:Streetlight:fi-duomo-meter", cmdID, 1)
	body := ""
	want := http.StatusOK
	switch {
	case method == "POST" && strings.HasSuffix(path, "/commands"):
		body, want = `{"entity":"`+fiDali+`","point":"line_level","value":50,"reason":"lavori","operator":"Firenze"}`, http.StatusAccepted
	case strings.HasSuffix(path, "/approve"):
		body = `{"operator":"Firenze"}`
	case strings.HasSuffix(path, "/reject"):
		body = `{"operator":"Firenze","reason":"non ora"}`
	case strings.HasSuffix(path, "/points"):
		path += "?entity=" + fiDali
	case strings.HasSuffix(path, "/commands"):
		path += "?state=all"
	}
	code, got := do(method, path, bariToken, body)
	switch {
	case strings.Contains(path, cmdID) || strings.Contains(path, "points") || method == "POST":
		if code != http.StatusNotFound {
			t.Errorf("Bari's token on Firenze's command: %d %.300s, want 404", code, got)
		}
	case code != http.StatusOK || strings.Contains(got, cmdID) || strings.Contains(got, fiDali) || strings.Contains(got, `"gw1"`):
		t.Errorf("Bari's token sees Firenze's commands: %d %.300s", code, got)
	}
	code, got = do(method, path, firenzeToken, body)
	if code != want || method == "GET" && !strings.Contains(got, fiDali) && !strings.Contains(got, cmdID) || strings.Contains(got, baDali) {
		t.Errorf("Firenze's token: %d %.300s, want %d and its own line", code, got, want)
	}
}

// alarmID returns the ID of the alarm on entity in an alarms list.
func alarmID(body, entity string) string {
	i := strings.Index(body, `"entity":"`+entity+`"`)
	if i < 0 {
		return ""
	}
	j := strings.LastIndex(body[:i], `"id":"`)
	if j < 0 {
		return ""
	}
	id, _, _ := strings.Cut(body[j+len(`"id":"`):], `"`)
	return id
}

// streamSees opens the SSE stream at url with token, calls publish once
// it is open, and reads it until a line names want; no line before may
// name not.
func streamSees(t *testing.T, url, token, want, not string, publish func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream %s: %d", url, resp.StatusCode)
	}
	publish()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, not) {
			t.Fatalf("stream %s: the token sees %s: %.300s", url, not, line)
		}
		if strings.Contains(line, want) {
			return
		}
	}
	t.Fatalf("stream %s: no event about %s (%v)", url, want, sc.Err())
}

// TestTenantPublicPages: each tenant's public API and page live under
// /t/{tenant}/ with its name and licence, and carry its areas only.
func TestTenantPublicPages(t *testing.T) {
	testenv.Integration(t, "ingest with its embedded broker")
	dir := t.TempDir()
	// Bari publishes under its own licence (the last lines of tenants).
	extra := twoCities(t, dir)
	extra += "    licence: {name: IODL 2.0, url: \"https://www.dati.gov.it/iodl/2.0/\", attribution: Comune di Bari}\n"
	extra = strings.Replace(extra, "  - {id: bari, name: Comune di Bari, areas: [\"072006\"], gateways: [gw2], tokens: ["+bariToken+"]}\n",
		"  - id: bari\n    name: Comune di Bari\n    areas: [\"072006\"]\n    gateways: [gw2]\n    tokens: ["+bariToken+"]\n", 1)
	cfg, _ := writeConfig(t, dir, "", extra, 2)
	addrs := start(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	get := func(path string) (int, string) {
		code, _, b := httpGet(t, "http://"+addrs.HTTP+path)
		return code, b
	}
	code, body := get("/t/bari/api/v1/indicators")
	if code != http.StatusOK || !strings.Contains(body, `"072006"`) || strings.Contains(body, `"048017"`) || !strings.Contains(body, "IODL 2.0") {
		t.Errorf("Bari's indicators: %d %.500s", code, body)
	}
	code, body = get("/t/firenze/api/v1/indicators")
	if code != http.StatusOK || !strings.Contains(body, `"048017"`) || strings.Contains(body, `"072006"`) || strings.Contains(body, "IODL") {
		t.Errorf("Firenze's indicators (the platform's licence): %d %.500s", code, body)
	}
	if code, body = get("/t/bari/api/v1/config"); code != http.StatusOK || !strings.Contains(body, `"tenant":{"id":"bari","name":"Comune di Bari"}`) {
		t.Errorf("Bari's config: %d %s", code, body)
	}
	if code, body = get("/t/bari/api/v1/areas.geojson"); code != http.StatusOK || !strings.Contains(body, "072006") || strings.Contains(body, "048017") {
		t.Errorf("Bari's areas: %d %.300s", code, body)
	}
	if code, body = get("/t/bari/indicators/"); code != http.StatusOK || !strings.Contains(body, "<html") {
		t.Errorf("Bari's page: %d %.200s", code, body)
	}
	if code, _ = get("/t/bari/api/v1/entities"); code == http.StatusOK {
		t.Error("an operator route under a tenant's public prefix answers")
	}
	for _, p := range []string{"/t/roma/indicators/", "/t/roma/api/v1/indicators", "/t/bari/map/"} {
		if code, _ = get(p); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
}
