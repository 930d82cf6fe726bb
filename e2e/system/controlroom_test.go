package system_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/internal/testenv/browser"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// The Bari air station whose NO2 the control-room test drives.
const crAir = "urn:ngsi-ld:AirQualityObserved:ba-stazione"

// noData is the map's colour of an area without a value (README).
const noData = "#d9d9d9"

// crGateway is the Bari gateway as the test runs it: an MQTT client with
// the gateway's last will (status offline, retained), as the edge agent
// connects, whose TCP connection the test can cut as a dying box's is.
type crGateway struct {
	c      mqtt.Client
	topics wire.Topics
	seq    uint64
	mu     sync.Mutex
	conn   net.Conn
}

// connectGateway connects as the Bari gateway with its last will.
func connectGateway(t *testing.T, brokerURL string, topics wire.Topics) *crGateway {
	t.Helper()
	g := &crGateway{topics: topics}
	will := wire.EncodeStatus(wire.Status{Gateway: baGW, State: wire.StateOffline, Time: time.Now().UTC()})
	o := mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID(baGW).SetUsername(baGW).SetPassword(e2ePassword(baGW)).
		SetCleanSession(true).SetAutoReconnect(false).SetBinaryWill(topics.Status(baGW), will, 1, true).
		SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			c, err := net.Dial("tcp", u.Host)
			g.mu.Lock()
			g.conn = c
			g.mu.Unlock()
			return c, err
		})
	g.c = mqtt.NewClient(o)
	if tok := g.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect as %s: %v", baGW, tok.Error())
	}
	t.Cleanup(func() { g.c.Disconnect(50) })
	return g
}

// publish sends one batch of readings (the next sequence numbers of epoch 1).
func (g *crGateway) publish(t *testing.T, readings ...wire.Reading) {
	t.Helper()
	b := &wire.Batch{Gateway: baGW, Epoch: 1, Readings: readings}
	for range readings {
		g.seq++
		b.Seqs = append(b.Seqs, g.seq)
	}
	data, err := wire.Encode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	if tok := g.c.Publish(g.topics.Up(baGW), 1, false, data); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish a batch of %s: %v", baGW, tok.Error())
	}
}

// die cuts the gateway's TCP connection without a DISCONNECT, as a box
// losing power does: the broker publishes its last will.
func (g *crGateway) die() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conn != nil {
		g.conn.Close()
	}
}

// no2 is one NO2 reading of the Bari air station now.
func no2(v float64) wire.Reading {
	return wire.Reading{Device: "ba-stazione-air", Point: "no2", Value: wire.Float(v), Unit: "ug/m3", Time: time.Now().UTC().Truncate(time.Millisecond)}
}

// crPage is the map's tab with the test's helpers.
type crPage struct {
	t     *testing.T
	ctx   context.Context
	p     *browser.Page
	shots string
}

// wait waits until cond (a page expression) holds, failing with what.
func (c *crPage) wait(what, cond string) {
	c.t.Helper()
	var ms float64
	if err := c.p.Eval(c.ctx, browser.WaitJS(cond, 15000), &ms); err != nil || ms < 0 {
		c.p.DrainLog()
		browser.Shot(c.ctx, c.t, c.p, c.shots, "controlroom-failed.png")
		c.t.Fatalf("%s: never held (%v): %s", what, err, cond)
	}
}

// eval evaluates expr into out, failing the test on error.
func (c *crPage) eval(expr string, out any) {
	c.t.Helper()
	if err := c.p.Eval(c.ctx, expr, out); err != nil {
		c.t.Fatalf("%s: %v", expr, err)
	}
}

// click clicks the middle of the first element matching selector with
// the mouse, as an operator does (so an element covering it gets the
// click instead).
func (c *crPage) click(selector string) {
	c.t.Helper()
	var at *struct{ X, Y float64 }
	c.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return null;
  e.scrollIntoView({block: 'nearest'}); const b = e.getBoundingClientRect(); return {X: b.left + b.width / 2, Y: b.top + b.height / 2}; })()`, selector), &at)
	if at == nil {
		c.t.Fatalf("nothing to click at %s", selector)
	}
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		if _, err := c.p.Call(c.ctx, "Input.dispatchMouseEvent", map[string]any{"type": typ, "x": at.X, "y": at.Y, "button": "left", "clickCount": 1}); err != nil {
			c.t.Fatal(err)
		}
	}
}

// typeInto focuses the element at selector and types text into it.
func (c *crPage) typeInto(selector, text string) {
	c.t.Helper()
	var ok bool
	c.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; e.focus(); return true; })()`, selector), &ok)
	if !ok {
		c.t.Fatalf("nothing to type into at %s", selector)
	}
	if _, err := c.p.Call(c.ctx, "Input.insertText", map[string]any{"text": text}); err != nil {
		c.t.Fatal(err)
	}
}

// shot saves a screenshot once the map (if the page has one) has drawn
// what it was asked to: a popup that panned the map leaves a stale frame
// otherwise.
func (c *crPage) shot(name string) {
	c.t.Helper()
	c.eval(`(async () => { const m = window.ponteMap && window.ponteMap.map;
  if (m) { const idle = new Promise(r => m.once('idle', r)); m.triggerRepaint(); await idle; }
  const b = document.body.style; b.transform = 'translateZ(0)'; await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  b.transform = ''; await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))); return true; })()`, nil)
	browser.Shot(c.ctx, c.t, c.p, c.shots, name)
}

// TestControlRoom: an operator's day on the map that the real ingest
// serves (embedded broker, real InfluxDB, the twin of Bari's 41
// municipalities and the fixture's roads), with a Bari gateway publishing
// real wire batches over MQTT: search finds a site by its road's name;
// the time slider shows a past minute the test wrote to InfluxDB (sites
// and areas) and returns to live; an NO2 exceedance raises an alarm that
// shows in the panel and on the map, is acknowledged with a click and
// names who, and clears when NO2 goes back under the threshold minus the
// hysteresis; the gateway's death (its TCP connection cut, its last will)
// raises the banner, the panel's entry and the header's count; the
// citizens' page answers in Italian. Each state is a screenshot.
func TestControlRoom(t *testing.T) {
	testenv.Integration(t, "headless Chromium, InfluxDB and ingest")
	needBuilt(t)
	shots := browser.Artifacts(t)
	influx := influxtest.Start(t)
	dir := t.TempDir()

	testenv.WriteFile(t, filepath.Join(dir, "ba.yaml"), siteYAML(baGW, "tcp://127.0.0.1:1883", e2ePassword(baGW), filepath.Join(dir, "ba-buffer"), "", baDevices))
	// The NO2 hourly limit (200 µg/m³, hysteresis 10) on the latest
	// value, raised and cleared after 2 s instead of the shipped mean of
	// an hour, so that the test sees its life in seconds.
	testenv.WriteFile(t, filepath.Join(dir, "ingest.yaml"), fmt.Sprintf(`broker:
  listen: 127.0.0.1:0
  client_id: ingest-controlroom
influx:
  url: %s
  bucket: %s
  flush_interval: 50ms
http:
  listen: 127.0.0.1:0
  ops_listen: 127.0.0.1:0
state_dir: %s
dead_letter:
  dir: %s
gateways:
  - id: %s
    password: %s
sites: [ba.yaml]
profiles: %s
twin:
  areas: [%s]
  roads: %s
  stale_factor: 10
  tokens: [%s]
  # An outside tile server, which the browser cannot reach: the map's
  # own base layers must carry the view.
  tile_url: https://tile.openstreetmap.org/{z}/{x}/{y}.png
  alarms:
    rules:
      - {id: eu-no2-hourly, window: 0s, min_duration: 2s}
`, influx.URL, influx.Bucket, filepath.Join(dir, "state"), filepath.Join(dir, "dead"), baGW, e2ePassword(baGW),
		absPath(t, "../../firmware-profiles"), absPath(t, "../../geo/data/bari-metro-municipalities.geojson"),
		absPath(t, "../../geo/testdata/roads.geojson"), e2eToken))
	cfg, err := config.Load(filepath.Join(dir, "ingest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ing := startIngest(t, cfg, func(o *app.Options) { o.Sink = nil }) // InfluxDB, as configured
	tw := ing.Twin
	base := "http://" + ing.HTTP

	gw := connectGateway(t, ing.BrokerURL, cfg.Topics())
	gw.publish(t, baReadings(time.Now().UTC().Truncate(time.Millisecond))...)
	testenv.Eventually(t, 10*time.Second, "the Bari sites fresh in the twin", func() bool {
		for _, d := range baDevices {
			if e, _ := tw.Entity(d.entity); e.Freshness != twin.Fresh {
				return false
			}
		}
		return true
	})

	b := browser.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := &crPage{t: t, ctx: ctx, p: b.NewPage(ctx), shots: shots}
	defer c.p.DrainLog()
	// The control room's network is cut off from the internet: every
	// request that is not to the ingest on loopback fails.
	blocked, err := c.p.BlockOutside(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// /map leads to the map with the configured tile server (?tiles=).
	if err := c.p.Navigate(ctx, base+"/map#token="+e2eToken); err != nil {
		t.Fatal(err)
	}
	c.wait("the map's hooks", "window.ponteMap")
	c.eval("window.ponteMap.ready", nil)
	c.wait("the stream live", "document.getElementById('status').dataset.state === 'live'")
	c.wait("the alarms' stream open", "Array.isArray(window.ponteMap.alarms())")
	for _, layer := range []string{"areas-fill", "areas-line", "roads"} {
		c.wait("the base layer "+layer+" drawn with the internet cut off",
			fmt.Sprintf("window.ponteMap.map.queryRenderedFeatures({layers: [%q]}).length > 0", layer))
	}
	c.shot("controlroom-offline-base.png")
	if len(blocked.URLs()) == 0 {
		t.Error("no request to the outside tile server was blocked: the test does not prove the base map works without it")
	}

	// (c) Search by the road's name finds the air station.
	site, _ := tw.Entity(crAir)
	road, ok := tw.Entity(site.Road)
	if !ok || road.Name == "" {
		t.Fatalf("the air station %s lies on no named road (road %q)", crAir, site.Road)
	}
	c.typeInto("#search", road.Name)
	result := fmt.Sprintf(`#search-results button.result[data-id=%q]`, crAir)
	c.wait("the air station among the results for "+road.Name, fmt.Sprintf("document.querySelector(%q)", result))
	c.shot("controlroom-search.png")
	c.click(result)
	c.wait("the air station's popup", fmt.Sprintf(`document.querySelector('.ponte-popup h2')?.textContent === %q`, site.Name))
	c.eval(`document.querySelector('.ponte-popup .maplibregl-popup-close-button').click(); document.getElementById('search').value = ''; document.getElementById('search').dispatchEvent(new Event('input')); true`, nil)

	// (d) Time travel to a past minute the test wrote: the site's NO2 and
	// the areas' colours then, and back to live.
	minute := time.Now().Truncate(time.Minute).Add(-30 * time.Minute)
	influx.Write(t, fmt.Sprintf("air,device=ba-stazione-air,gateway=%s no2=77,pm10=33 %d", baGW, minute.Add(-20*time.Second).UnixNano()))
	colour := func(id string) string {
		var s string
		c.eval(fmt.Sprintf("window.ponteMap.featureColor(%q)", id), &s)
		return s
	}
	const setIndicator = `(() => { const s = document.getElementById('indicator'); s.value = %q; s.dispatchEvent(new Event('change')); return s.value; })()`
	var chosen string
	c.eval(fmt.Sprintf(setIndicator, twin.IndTrafficIntensity), &chosen)
	if chosen != twin.IndTrafficIntensity {
		t.Fatalf("the map offers no %s to colour the areas by (chose %q)", twin.IndTrafficIntensity, chosen)
	}
	c.wait("Bari coloured by its live traffic", fmt.Sprintf(`window.ponteMap.featureColor(%q) && window.ponteMap.featureColor(%q) !== %q`, baArea, baArea, noData))
	live := colour(baArea)
	c.eval(`(() => { const s = document.getElementById('tt-slider'); s.value = '-30'; s.dispatchEvent(new Event('change')); return true; })()`, nil)
	c.wait("the map in the past", "window.ponteMap.pastAt() !== null")
	var pastAt string
	c.eval("window.ponteMap.pastAt()", &pastAt)
	if at, _ := time.Parse(time.RFC3339, pastAt); at.Sub(minute) < 0 || at.Sub(minute) > time.Minute {
		t.Errorf("the slider at -30 shows %s, want the minute %s (or the next, if a minute turned)", pastAt, minute.UTC().Format(time.RFC3339))
	}
	// No traffic was counted then: Bari has no traffic value in the past.
	c.wait("Bari without traffic in the past", fmt.Sprintf(`window.ponteMap.featureColor(%q) === %q`, baArea, noData))
	c.eval(fmt.Sprintf(setIndicator, twin.IndAirBandWorst), nil)
	c.wait("Bari coloured by its past air quality", fmt.Sprintf(`window.ponteMap.featureColor(%q) && window.ponteMap.featureColor(%q) !== %q`, baArea, baArea, noData))
	c.eval(fmt.Sprintf("window.ponteMap.pick(%q); true", crAir), nil)
	c.wait("the past NO2 in the popup", `document.querySelector('.ponte-popup tr[data-name="no2"] td.value')?.textContent === '77 µg/m³'`)
	var label string
	c.eval("document.getElementById('past-flag').textContent", &label)
	if !strings.HasPrefix(label, "Passato") {
		t.Errorf("the header says %q in the past, want Passato · <time>", label)
	}
	c.shot("controlroom-timetravel.png")
	c.click("#tt-live")
	c.wait("back to live", "window.ponteMap.pastAt() === null")
	c.eval(fmt.Sprintf(setIndicator, twin.IndTrafficIntensity), nil)
	c.wait("Bari's live colour again", fmt.Sprintf(`window.ponteMap.featureColor(%q) === %q`, baArea, live))
	c.eval(fmt.Sprintf("window.ponteMap.pick(%q); true", crAir), nil)
	c.wait("the live NO2 in the popup", `document.querySelector('.ponte-popup tr[data-name="no2"] td.value')?.textContent === '41 µg/m³'`)
	c.eval(`document.querySelector('.ponte-popup .maplibregl-popup-close-button').click(); true`, nil)

	// (b) An NO2 exceedance: raised after 2 s, in the panel and on the map.
	gw.publish(t, no2(250))
	c.wait("the NO2 alarm raised on the map", fmt.Sprintf(`window.ponteMap.alarmDrawn(%q) === 'raised'`, crAir))
	c.wait("the NO2 alarm in the panel", `document.querySelector('#attention-list li.alarm.state-raised')`)
	var panel string
	c.eval(`document.querySelector('#attention-list li.alarm').textContent`, &panel)
	if !strings.Contains(panel, "NO2 oltre il valore limite orario") || !strings.Contains(panel, "250 µg/m³ > soglia 200 µg/m³") {
		t.Errorf("the panel's alarm reads %q", panel)
	}
	var count string
	c.eval(`document.getElementById('attention-count').textContent`, &count)
	if count != "1" {
		t.Errorf("the header's count of things to look at is %q with one alarm open, want 1", count)
	}
	c.shot("controlroom-alarm-map.png")
	c.eval(fmt.Sprintf("window.ponteMap.pick(%q); true", crAir), nil)
	c.wait("the alarm in the popup", `document.querySelector('.ponte-popup li.alarm-item[data-state="raised"] button.alarm-ack-button')`)
	c.shot("controlroom-alarm-raised.png")

	// Acknowledged with a click, by name.
	c.typeInto(".ponte-popup li.alarm-item input[name=operator]", "Maria Rossi")
	c.click(".ponte-popup li.alarm-item button.alarm-ack-button")
	c.wait("the alarm acknowledged in the popup", `document.querySelector('.ponte-popup li.alarm-item[data-state="acknowledged"] .alarm-ack')?.textContent.startsWith('riconosciuto da Maria Rossi')`)
	c.wait("the acknowledged ring", fmt.Sprintf(`window.ponteMap.alarmDrawn(%q) === 'acknowledged'`, crAir))
	var alarms []struct {
		ID, State    string
		Acknowledged *struct{ By string }
	}
	c.eval("window.ponteMap.alarms()", &alarms)
	if len(alarms) != 1 || alarms[0].Acknowledged == nil || alarms[0].Acknowledged.By != "Maria Rossi" {
		t.Fatalf("open alarms after the click: %+v", alarms)
	}
	c.shot("controlroom-alarm-acknowledged.png")
	c.eval(`document.querySelector('.ponte-popup .maplibregl-popup-close-button').click(); true`, nil)
	c.shot("controlroom-alarm-acknowledged-map.png")

	// Back under 200 - 10: after 2 s it clears and, acknowledged, closes.
	gw.publish(t, no2(185))
	c.wait("the alarm gone from the map", fmt.Sprintf(`window.ponteMap.alarmDrawn(%q) === '' && window.ponteMap.alarms().length === 0`, crAir))
	c.wait("the alarm gone from the panel", `!document.querySelector('#attention-list li.alarm')`)
	var closed struct {
		Alarms []struct {
			ID, State    string
			Acknowledged *struct{ By string }
		}
	}
	getJSONAuth(t, base+"/api/v1/alarms?state=closed", e2eToken, &closed)
	if len(closed.Alarms) != 1 || closed.Alarms[0].ID != alarms[0].ID || closed.Alarms[0].Acknowledged == nil {
		t.Errorf("closed alarms: %+v", closed)
	}
	c.shot("controlroom-alarm-cleared.png")

	// (e) The citizens' page at /, for a browser that asks for Italian.
	ip := b.NewPage(ctx)
	if _, err := ip.Call(ctx, "Network.enable", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ip.Call(ctx, "Network.setExtraHTTPHeaders", map[string]any{"headers": map[string]string{"Accept-Language": "it-IT,it;q=0.9"}}); err != nil {
		t.Fatal(err)
	}
	if err := ip.Navigate(ctx, base+"/"); err != nil {
		t.Fatal(err)
	}
	ic := &crPage{t: t, ctx: ctx, p: ip, shots: shots}
	ic.wait("the citizens' page drawn", "document.body.dataset.ready === 'true'")
	var page struct{ Lang, City, Generated, Title string }
	ic.eval(`({Lang: document.documentElement.lang, City: document.getElementById('city-title').textContent,
  Generated: document.getElementById('generated').textContent, Title: document.querySelector('h1').textContent})`, &page)
	if page.Lang != "it" || page.City != "Tutta la città" || !strings.HasPrefix(page.Generated, "Dati aggiornati al") || page.Title != "Indicatori urbani" {
		t.Errorf("the citizens' page is not in Italian: %+v", page)
	}
	ic.shot("indicators-controlroom-it.png")
	ip.DrainLog()
	if err := ip.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.p.BringToFront(ctx); err != nil { // a background tab gets no frames
		t.Fatal(err)
	}

	// (a) The gateway dies: its connection cut, the broker publishes its
	// last will; the banner, the panel and the header say so.
	var before int
	c.eval(`Number(document.getElementById('attention-count').textContent || 0)`, &before)
	gw.die()
	c.wait("the banner", fmt.Sprintf(`!document.getElementById('banner').hidden && document.getElementById('banner-text').textContent.includes(%q)`, baGW))
	c.wait("the panel's offline gateway", fmt.Sprintf(`[...document.querySelectorAll('#attention-list li.offline')].some(li => li.textContent.includes(%q) && li.textContent.includes('ultimo contatto'))`, baGW))
	c.wait("the header's count", `document.getElementById('status').dataset.state === 'degraded' && document.getElementById('status').textContent === 'In diretta · 1 gateway offline'`)
	var after int
	c.eval(`Number(document.getElementById('attention-count').textContent || 0)`, &after)
	if after <= before {
		t.Errorf("the attention count went from %d to %d when the gateway died", before, after)
	}
	c.shot("controlroom-gateway-offline.png")

}

// getJSONAuth GETs url with the operator token into out.
func getJSONAuth(t testing.TB, url, token string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
}
