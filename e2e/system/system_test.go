package system_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/internal/testenv"

	"github.com/ponte-city/ponte/internal/testenv/browser"

	"github.com/ponte-city/ponte/edge/agent"
	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/site"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// The colours the map documents (twin/web/README.md) for sites' freshness.
const (
	colorFresh   = "#009e73"
	colorOffline = "#595959"
)

// needBuilt fails the test when the pages ingest embeds were not built.
func needBuilt(t testing.TB) {
	t.Helper()
	for _, f := range []string{"map/index.html", "map/app.js", "indicators/index.html", "indicators/app.js"} {
		if _, err := os.Stat(filepath.Join("../../twin/web/dist", f)); err != nil {
			t.Fatalf("the pages are not built (%v): run make web (cd twin/web && npm ci && npm run build)", err)
		}
	}
}

const (
	e2eToken = "e2e-operator-token-0123456789"
	fiGW     = "fi-e2e-01" // run by the edge agent
	baGW     = "ba-e2e-01" // batches published by the test
	fiArea   = "048017"    // Firenze (ISTAT)
	baArea   = "072006"    // Bari
	nAreas   = 82          // 41 municipalities of each metropolitan city
	nRoads   = 12          // geo/testdata/roads.geojson
)

// e2eDevice is one installed device of a site config.
type e2eDevice struct {
	name, profile, address string
	unit                   int
	id                     string // MQTT identity
	interval               string
	lon, lat               float64
	entity                 string
}

// Six Modbus devices in Firenze, polled by the agent from one simulated
// Modbus TCP server (units 1 to 6); ADDR is replaced with its address.
var fiDevices = []e2eDevice{
	{"fi-duomo-meter", "eastron-sdm630-v2", "ADDR", 1, "", "1s", 11.25580, 43.77310, "urn:ngsi-ld:StreetlightControlCabinet:fi-duomo"},
	{"fi-smn-meter", "eastron-sdm630-v2", "ADDR", 2, "", "1s", 11.24800, 43.77640, "urn:ngsi-ld:StreetlightControlCabinet:fi-smn"},
	{"fi-santacroce-air", "vaisala-aqt420", "ADDR", 3, "", "1s", 11.26220, 43.76860, "urn:ngsi-ld:AirQualityObserved:fi-santacroce"},
	{"fi-novoli-air", "vaisala-aqt420", "ADDR", 4, "", "1s", 11.22700, 43.79600, "urn:ngsi-ld:AirQualityObserved:fi-novoli"},
	{"fi-liberta-tsc", "signal-controller-status", "ADDR", 5, "", "1s", 11.26318, 43.78079, "urn:ngsi-ld:TrafficSignalController:fi-liberta"},
	{"fi-campodimarte-tsc", "signal-controller-status", "ADDR", 6, "", "1s", 11.27900, 43.77700, "urn:ngsi-ld:TrafficSignalController:fi-campodimarte"},
}

// Six devices of other kinds in Bari; the test publishes their readings
// as their gateway would.
var baDevices = []e2eDevice{
	{"ba-cavour-loops", "loop-counter-serial", "serial:///dev/ttyS1?baud=9600", 0, "", "60s", 16.87021, 41.12332, "urn:ngsi-ld:TrafficFlowObserved:ba-cavour"},
	{"ba-cavour-bay-101", "bosch-pls-chirpstack", "mqtt://127.0.0.1:1883", 0, "70b3d57ed0052a01", "1h", 16.87102, 41.12262, "urn:ngsi-ld:ParkingSpot:ba-cavour-101"},
	{"ba-ferrarese-noise", "milesight-ws302-tts", "mqtt://127.0.0.1:1883", 0, "24e124743c210102", "10m", 16.87200, 41.12700, "urn:ngsi-ld:NoiseLevelObserved:ba-ferrarese"},
	{"ba-lungomare-weather", "vaisala-wxt530-nmea", "serial:///dev/ttyUSB1?baud=19200", 0, "", "60s", 16.88000, 41.12000, "urn:ngsi-ld:WeatherObserved:ba-lungomare"},
	{"ba-stazione-air", "vaisala-aqt420", "rtu:///dev/ttyUSB0?baud=19200&parity=E", 3, "", "60s", 16.87050, 41.11800, "urn:ngsi-ld:AirQualityObserved:ba-stazione"},
	{"ba-poggiofranco-meter", "eastron-sdm630-v2", "rtu:///dev/ttyUSB0?baud=19200&parity=E", 1, "", "60s", 16.86500, 41.10100, "urn:ngsi-ld:StreetlightControlCabinet:ba-poggiofranco"},
}

// siteHeader is a site config's gateway, uplink, buffer and http sections
// and the "devices:" line its devices follow.
func siteHeader(gw, broker, password, bufDir string) string {
	return fmt.Sprintf("gateway:\n  id: %s\nuplink:\n  broker: %s\n  password: %s\n  batch_max_wait: 100ms\nbuffer:\n  dir: %s\nhttp:\n  listen: 127.0.0.1:0\ndevices:\n",
		gw, broker, password, bufDir)
}

// siteYAML is a gateway's site config.
func siteYAML(gw, broker, password, bufDir, modbusAddr string, devs []e2eDevice) string {
	var b strings.Builder
	b.WriteString(siteHeader(gw, broker, password, bufDir))
	for _, d := range devs {
		addr := d.address
		if addr == "ADDR" {
			addr = "tcp://" + modbusAddr
		}
		fmt.Fprintf(&b, "  - name: %s\n    profile: %s\n    address: %q\n    interval: %s\n    location: {lon: %.5f, lat: %.5f}\n    entity: %s\n",
			d.name, d.profile, addr, d.interval, d.lon, d.lat, d.entity)
		if d.unit != 0 {
			fmt.Fprintf(&b, "    unit: %d\n", d.unit)
		}
		if d.id != "" {
			fmt.Fprintf(&b, "    id: %q\n", d.id)
		}
	}
	return b.String()
}

func absPath(t testing.TB, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// startModbusDevices serves the Modbus devices of devs (one unit each, of
// its profile) over Modbus TCP on loopback until the test ends, their
// values following the profiles' patterns as ponte-sim's do.
func startModbusDevices(t testing.TB, devs []e2eDevice) string {
	t.Helper()
	var units []*sim.ModbusUnit
	for _, d := range devs {
		p, err := profile.Load(filepath.Join("../../firmware-profiles", d.profile+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		u, err := sim.NewModbusUnit(p, uint8(d.unit), int64(d.unit))
		if err != nil {
			t.Fatal(err)
		}
		u.Update(time.Now())
		units = append(units, u)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sim.NewModbusServer(nil, units...).ServeTCP(ctx, ln)
	}()
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				for _, u := range units {
					u.Update(now)
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); ln.Close(); <-done })
	return ln.Addr().String()
}

// e2ePassword is gateway id's MQTT password (as in the ingest YAML).
func e2ePassword(id string) string { return "pw-" + id + "-0123456789abcdef" }

// startIngest runs app.Run until the test ends and returns its addresses
// once it is ready; mods change its options (by default a memory sink
// instead of InfluxDB).
func startIngest(t testing.TB, cfg *config.Config, mods ...func(*app.Options)) app.Addrs {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan app.Addrs, 1)
	done := make(chan error, 1)
	opts := app.Options{Sink: ingesttest.NewMemSink(), Logger: slog.New(slog.DiscardHandler),
		Started: func(a app.Addrs) { started <- a }}
	for _, m := range mods {
		m(&opts)
	}
	go func() { done <- app.Run(ctx, cfg, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("app.Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("app.Run did not return 20s after cancel")
		}
	})
	var a app.Addrs
	select {
	case a = <-started:
	case err := <-done:
		t.Fatalf("app.Run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("ingest did not start within 20s")
	}
	testenv.Eventually(t, 20*time.Second, "ingest ready", func() bool {
		resp, err := http.Get("http://" + a.Ops + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return a
}

// startIngestYAML writes ingest's config into dir and runs it until the
// test ends (startIngest): its embedded broker (broker: more lines under
// broker:, indented), no InfluxDB, listeners on free ports, state and dead
// letters under dir, gateways gws with their e2ePassword, then rest (the
// top-level sections of the test).
func startIngestYAML(t testing.TB, dir, broker string, gws []string, rest string) (app.Addrs, *config.Config) {
	t.Helper()
	cfg := ingestConfigYAML(t, dir, broker, gws, rest)
	return startIngest(t, cfg), cfg
}

// ingestConfigYAML writes and loads the config startIngestYAML runs.
func ingestConfigYAML(t testing.TB, dir, broker string, gws []string, rest string) *config.Config {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "broker:\n  listen: 127.0.0.1:0\n  client_id: ingest-e2e\n%sinflux:\n  url: http://127.0.0.1:9\n", broker)
	fmt.Fprintf(&b, "http:\n  listen: 127.0.0.1:0\n  ops_listen: 127.0.0.1:0\nstate_dir: %s\ndead_letter:\n  dir: %s\ngateways:\n",
		filepath.Join(dir, "state"), filepath.Join(dir, "dead"))
	for _, gw := range gws {
		fmt.Fprintf(&b, "  - id: %s\n    password: %s\n", gw, e2ePassword(gw))
	}
	b.WriteString(rest)
	cfgPath := filepath.Join(dir, "ingest.yaml")
	testenv.WriteFile(t, cfgPath, b.String())
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startAgent runs the edge agent of the site config at path until the
// test ends (stopped before ingest: cleanups run last first).
func startAgent(t testing.TB, path string) *agent.Agent {
	t.Helper()
	a, stop := runAgent(t, path)
	t.Cleanup(stop)
	return a
}

// runAgent runs the edge agent of the site config at path until stop.
func runAgent(t testing.TB, path string) (*agent.Agent, func()) {
	t.Helper()
	a, err := agent.New(agent.Config{Path: path, Load: site.Options{ProfilesDir: absPath(t, "../../firmware-profiles")},
		Logger: slog.New(slog.DiscardHandler), ShutdownTimeout: 5 * time.Second, DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return a, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("agent.Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("agent.Run did not return 10s after cancel")
		}
	}
}

// baReadings are one uplink of each Bari device, at now.
func baReadings(now time.Time) []wire.Reading {
	r := func(dev, point string, v wire.Value, unit string) wire.Reading {
		return wire.Reading{Device: dev, Point: point, Value: v, Unit: unit, Time: now}
	}
	return []wire.Reading{
		r("ba-cavour-loops", "lane1_intensity", wire.Int(17), "1/min"),
		r("ba-cavour-loops", "lane1_speed", wire.Float(42.5), "km/h"),
		r("ba-cavour-loops", "lane1_occupancy", wire.Float(12.0), "%"),
		r("ba-cavour-bay-101", "occupied", wire.Bool(true), ""),
		r("ba-ferrarese-noise", "LAeq", wire.Float(62.5), "dB"),
		r("ba-ferrarese-noise", "LAmax", wire.Float(74.0), "dB"),
		r("ba-lungomare-weather", "temperature", wire.Float(18.5), "Cel"),
		r("ba-lungomare-weather", "wind_speed", wire.Float(3.4), "m/s"),
		r("ba-stazione-air", "no2", wire.Float(41), "ug/m3"),
		r("ba-stazione-air", "pm25", wire.Float(12), "ug/m3"),
		r("ba-stazione-air", "pm10", wire.Float(21), "ug/m3"),
		r("ba-poggiofranco-meter", "total_power", wire.Float(2500), "W"),
	}
}

// system is ingest with its twin and embedded broker, started on the
// site configs of both gateways; the Firenze agent's config is written
// again with the broker's address before the agent starts.
type system struct {
	ing                       app.Addrs
	cfg                       *config.Config
	fiSite, fiBuf, modbusAddr string
}

// startSystem writes the site configs and ingest's config into dir, starts
// the Firenze Modbus devices and ingest, and returns once ingest is ready;
// extra are more top-level sections of ingest's config (tenants:, say).
func startSystem(t testing.TB, dir string, extra ...string) *system {
	t.Helper()
	// Site configs: the twin reads both at start; the agent's is written
	// again with the embedded broker's address once ingest listens. The
	// agent polls every second; stale_factor 10 keeps a slow poll on a
	// busy machine from making a site stale mid-test.
	modbusAddr := startModbusDevices(t, fiDevices)
	fiSite, baSite := filepath.Join(dir, "fi.yaml"), filepath.Join(dir, "ba.yaml")
	fiBuf := filepath.Join(dir, "fi-buffer")
	testenv.WriteFile(t, fiSite, siteYAML(fiGW, "tcp://127.0.0.1:1883", e2ePassword(fiGW), fiBuf, modbusAddr, fiDevices))
	testenv.WriteFile(t, baSite, siteYAML(baGW, "tcp://127.0.0.1:1883", e2ePassword(baGW), filepath.Join(dir, "ba-buffer"), "", baDevices))
	ing, cfg := startIngestYAML(t, dir, "", []string{fiGW, baGW}, fmt.Sprintf(`sites: [fi.yaml, ba.yaml]
profiles: %s
twin:
  areas: [%s, %s]
  roads: %s
  stale_factor: 10
  tokens: [%s]
`, absPath(t, "../../firmware-profiles"),
		absPath(t, "../../geo/data/firenze-metro-municipalities.geojson"), absPath(t, "../../geo/data/bari-metro-municipalities.geojson"),
		absPath(t, "../../geo/testdata/roads.geojson"), e2eToken)+strings.Join(extra, ""))
	if ing.Twin == nil {
		t.Fatal("ingest keeps no twin")
	}
	return &system{ing: ing, cfg: cfg, fiSite: fiSite, fiBuf: fiBuf, modbusAddr: modbusAddr}
}

// connectBari connects as the Bari gateway to ingest's broker.
func connectBari(t testing.TB, brokerURL string) mqtt.Client {
	t.Helper()
	gw, err := ingesttest.Connect(brokerURL, baGW, baGW, e2ePassword(baGW))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Disconnect(50) })
	return gw
}

// publishBari publishes one batch of every Bari device's readings, now.
func publishBari(t testing.TB, gw mqtt.Client, topics wire.Topics) {
	t.Helper()
	readings := baReadings(time.Now().UTC().Truncate(time.Millisecond))
	batch := &wire.Batch{Gateway: baGW, Epoch: 1, Readings: readings}
	for i := range readings {
		batch.Seqs = append(batch.Seqs, uint64(i+1))
	}
	data, err := wire.Encode(nil, batch)
	if err != nil {
		t.Fatal(err)
	}
	if tok := gw.Publish(topics.Up(baGW), 1, false, data); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish the Bari batch: %v", tok.Error())
	}
}

// TestEndToEnd: simulated devices through the edge agent and a gateway's
// batches reach ingest; the map ingest serves shows every site, area and
// road; a gateway going offline at ingest recolours its sites on the page
// (how fast is BenchmarkGatewayOfflineToMap's figure); the indicators
// page renders the areas.
func TestEndToEnd(t *testing.T) {
	testenv.Integration(t, "headless Chromium and the whole chain in-process")
	needBuilt(t)
	dir := t.TempDir()
	shots := browser.Artifacts(t)

	sys := startSystem(t, dir)
	ing, cfg, tw := sys.ing, sys.cfg, sys.ing.Twin
	for _, d := range append(append([]e2eDevice(nil), fiDevices...), baDevices...) {
		want := fiArea
		if strings.HasPrefix(d.name, "ba-") {
			want = baArea
		}
		if e, ok := tw.Entity(d.entity); !ok || e.Area != want {
			t.Fatalf("site %s: in the twin %v, area %q; want it in area %s", d.entity, ok, e.Area, want)
		}
	}

	// The Firenze gateway: the real agent polling the simulated devices.
	testenv.WriteFile(t, sys.fiSite, siteYAML(fiGW, ing.BrokerURL, e2ePassword(fiGW), sys.fiBuf, sys.modbusAddr, fiDevices))
	startAgent(t, sys.fiSite)

	// The Bari gateway: its batch published through the broker.
	gw := connectBari(t, ing.BrokerURL)
	topics := cfg.Topics()
	publishBari(t, gw, topics)
	fresh := func(devs []e2eDevice) func() bool {
		return func() bool {
			for _, d := range devs {
				if e, _ := tw.Entity(d.entity); e.Freshness != twin.Fresh {
					return false
				}
			}
			return true
		}
	}
	testenv.Eventually(t, 10*time.Second, "the Bari sites fresh in the twin", fresh(baDevices))
	testenv.Eventually(t, 15*time.Second, "the agent's Firenze sites fresh in the twin", fresh(fiDevices))

	// The operators' map.
	b := browser.Start(t)
	// A bound on the browser part, not a figure: on a loaded machine its
	// steps took over two minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := b.NewPage(ctx)
	defer p.DrainLog()
	base := "http://" + ing.HTTP
	if err := p.Navigate(ctx, base+"/map/#token="+e2eToken); err != nil {
		t.Fatal(err)
	}
	var ms float64
	if err := p.Eval(ctx, browser.WaitJS("window.ponteMap", 20000), &ms); err != nil || ms < 0 {
		p.DrainLog()
		t.Fatalf("window.ponteMap never appeared: %v", err)
	}
	if err := p.Eval(ctx, "window.ponteMap.ready", nil); err != nil {
		p.DrainLog()
		browser.Shot(ctx, t, p, shots, "e2e-map-failed.png")
		t.Fatalf("map not ready: %v", err)
	}
	if err := p.Eval(ctx, browser.WaitJS("document.getElementById('status').dataset.state === 'live'", 10000), &ms); err != nil || ms < 0 {
		p.DrainLog()
		t.Fatalf("the map's stream never went live: %v", err)
	}
	for kind, want := range map[string]int{"site": len(fiDevices) + len(baDevices), "area": nAreas} {
		var got int
		if err := p.Eval(ctx, fmt.Sprintf("window.ponteMap.featureCount(%q)", kind), &got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("featureCount(%q) = %d, want %d", kind, got, want)
		}
	}
	colorOf := func(id string) string {
		var c string
		if err := p.Eval(ctx, fmt.Sprintf("window.ponteMap.featureColor(%q)", id), &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// The map opens on the city with the most devices; to read what it
	// paints in each, look at each at street zoom (featureColor reads what
	// is drawn, and zoomed out to both cities the sites are clustered in
	// the server's tiles).
	look := func(devs []e2eDevice) {
		t.Helper()
		w, s, e, n := devs[0].lon, devs[0].lat, devs[0].lon, devs[0].lat
		for _, d := range devs {
			w, s, e, n = min(w, d.lon), min(s, d.lat), max(e, d.lon), max(n, d.lat)
		}
		if err := p.Eval(ctx, fmt.Sprintf("window.ponteMap.map.fitBounds([[%f, %f], [%f, %f]], {padding: 40, animate: false, maxZoom: 16}); true", w, s, e, n), nil); err != nil {
			t.Fatal(err)
		}
		if err := p.Eval(ctx, browser.WaitJS(fmt.Sprintf("[%s].every(id => window.ponteMap.featureColor(id) !== null)", quoteIDs(devs)), 10000), &ms); err != nil || ms < 0 {
			t.Errorf("the sites of %s are not drawn when looked at: %v", devs[0].entity, err)
		}
	}
	for _, devs := range [][]e2eDevice{fiDevices, baDevices} {
		look(devs)
		for _, d := range devs {
			if c := colorOf(d.entity); c != colorFresh {
				t.Errorf("site %s painted %q, want fresh %s", d.entity, c, colorFresh)
			}
		}
	}
	if t.Failed() {
		browser.Shot(ctx, t, p, shots, "e2e-map-failed.png")
		t.FailNow()
	}
	browser.Shot(ctx, t, p, shots, "e2e-map-loaded.png")

	// The public indicators page: a card per area with sensors; the areas with data in
	// the API show values; the choropleth has a region per area. (Before
	// the change below: the public answers may be cached for 10 s, so
	// the page and the API agree only while no site changes.)
	ip := b.NewPage(ctx)
	if err := ip.Navigate(ctx, base+"/indicators/"); err != nil {
		t.Fatal(err)
	}
	if err := ip.Eval(ctx, browser.WaitJS("document.body.dataset.ready === 'true'", 10000), &ms); err != nil || ms < 0 {
		ip.DrainLog()
		t.Fatalf("the indicators page never rendered: %v", err)
	}
	var inds twin.Indicators
	getJSON(t, base+"/api/v1/indicators", &inds)
	if len(inds.Areas) != nAreas {
		t.Fatalf("the API serves indicators of %d areas, want %d", len(inds.Areas), nAreas)
	}
	var cards []struct {
		ID     string
		Values []string
	}
	if err := ip.Eval(ctx, `[...document.querySelectorAll('article.area-card')].map(c => ({ID: c.dataset.id,
  Values: [...c.querySelectorAll('td[data-indicator]')].map(td => td.firstChild ? td.firstChild.textContent : '')}))`, &cards); err != nil {
		t.Fatal(err)
	}
	// A card per area with sensors; the others are folded into one line.
	withData, withSensors := map[string]bool{}, 0
	for _, a := range inds.Areas {
		sensed := false
		for _, i := range a.Indicators {
			if i.Value != nil {
				withData[a.ID] = true
			}
			sensed = sensed || i.Sensors > 0
		}
		if sensed {
			withSensors++
		}
	}
	if len(cards) != withSensors {
		t.Errorf("%d area cards, want one per area with sensors (%d)", len(cards), withSensors)
	}
	for id, city := range map[string]string{fiArea: "Firenze", baArea: "Bari"} {
		if !withData[id] {
			t.Errorf("%s (%s) has no indicator with data in the API, though its sites are fresh", city, id)
		}
	}
	shown := map[string]bool{}
	for _, c := range cards {
		for _, v := range c.Values {
			if v != "" && v != "no data" && v != "nessun dato" {
				shown[c.ID] = true
			}
		}
	}
	for id := range withData {
		if !shown[id] {
			t.Errorf("area %s has data in the API but its card shows none", id)
		}
	}
	for id := range shown {
		if !withData[id] {
			t.Errorf("area %s's card shows values the API does not have", id)
		}
	}
	// The choropleth draws once /api/v1/areas.geojson arrived, which may
	// be after the cards.
	var waited float64
	var regions int
	if err := ip.Eval(ctx, browser.WaitJS(fmt.Sprintf(`document.querySelectorAll('#choropleth-map path[data-id]').length >= %d`, nAreas), 20000), &waited); err != nil {
		t.Fatal(err)
	}
	if err := ip.Eval(ctx, `document.querySelectorAll('#choropleth-map path[data-id]').length`, &regions); err != nil {
		t.Fatal(err)
	}
	if regions != nAreas {
		t.Errorf("%d choropleth regions, want one per area (%d) from /api/v1/areas.geojson", regions, nAreas)
	}
	browser.Shot(ctx, t, ip, shots, "indicators-e2e.png")
	// Back to the map's tab: a background tab gets no animation frames
	// and throttled timers.
	ip.DrainLog()
	if err := ip.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.BringToFront(ctx); err != nil {
		t.Fatal(err)
	}

	// The change at ingest: the Bari gateway's status (its last will)
	// says offline, so its sites are offline; the map shows it.
	look(baDevices)
	site := baDevices[0].entity
	st := wire.EncodeStatus(wire.Status{Gateway: baGW, State: wire.StateOffline, Time: time.Now()})
	tok := gw.Publish(topics.Status(baGW), 1, true, st)
	cond := fmt.Sprintf("window.ponteMap.featureColor(%q) === %q", site, colorOffline)
	if err := p.Eval(ctx, browser.WaitJS(cond, 10000), &ms); err != nil {
		t.Fatal(err)
	}
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish the Bari status: %v", tok.Error())
	}
	if ms < 0 {
		t.Fatalf("site %s still painted %q 10 s after its gateway went offline, want %s", site, colorOf(site), colorOffline)
	}
	// Every site of that gateway goes offline; the agent's stay fresh.
	others := fmt.Sprintf("[%s].every(id => window.ponteMap.featureColor(id) === %q)", quoteIDs(baDevices), colorOffline)
	if err := p.Eval(ctx, browser.WaitJS(others, 3000), &ms); err != nil || ms < 0 {
		t.Errorf("not every site of %s painted offline: %v", baGW, err)
	}
	browser.Shot(ctx, t, p, shots, "e2e-map-offline.png")
	look(fiDevices)
	for _, d := range fiDevices {
		if c := colorOf(d.entity); c != colorFresh {
			t.Errorf("site %s of the live gateway %s painted %q, want fresh %s", d.entity, fiGW, c, colorFresh)
		}
	}

	// Roads: every segment of the fixture, looked at city by city. (At the
	// view of both cities a segment shorter than the tiler's tolerance at
	// that zoom is not drawn, so the whole-view count is not a fixture
	// property.)
	roads := map[string]bool{}
	for _, city := range []struct {
		name     string
		lon, lat float64
	}{{"firenze", 11.255, 43.773}, {"bari", 16.870, 41.122}} {
		var ids []string
		if err := p.Eval(ctx, fmt.Sprintf(`(async () => { const m = window.ponteMap.map;
  const idle = new Promise(r => m.once('idle', r)); m.jumpTo({center: [%f, %f], zoom: 13}); await idle;
  return m.querySourceFeatures('roads').filter(f => f.properties.kind === 'road').map(f => f.properties._id); })()`, city.lon, city.lat), &ids); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			roads[id] = true
		}
		browser.Shot(ctx, t, p, shots, "e2e-map-"+city.name+".png")
	}
	if len(roads) != nRoads {
		t.Errorf("the map draws %d roads %v, want the fixture's %d", len(roads), roads, nRoads)
	}

}

func quoteIDs(devs []e2eDevice) string {
	q := make([]string, len(devs))
	for i, d := range devs {
		q[i] = fmt.Sprintf("%q", d.entity)
	}
	return strings.Join(q, ",")
}

func getJSON(t testing.TB, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %.200s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
