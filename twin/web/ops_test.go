package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/testenv/browser"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/api"
	"github.com/ponte-city/ponte/wire"
)

// opsSites are an air-quality station with internal points and a parking
// spot (a boolean), in central Firenze.
func opsSites(now time.Time) []twin.Entity {
	return []twin.Entity{
		{ID: "urn:ngsi-ld:AirQualityObserved:fi-cavour", Type: "AirQualityObserved", Kind: twin.KindSite, Name: "Centralina Cavour",
			Geometry: orb.Point{11.2575, 43.7768}, Gateway: "gw-fi-1", Device: "aq-cavour", Category: wire.CategoryAir, Freshness: twin.Fresh, Updated: now,
			Area: "048017", Road: "FI-cavour",
			Attrs: map[string]twin.Attr{
				"no2": {Value: 41.0, Unit: "ug/m3", ObservedAt: now}, "airQualityLevel": {Value: "very poor", ObservedAt: now}, "temperature": {Value: 12.5, Unit: "Cel", ObservedAt: now},
				"relativeHumidity": {Value: 0.84, Unit: "1", ObservedAt: now}, "heater_on": {Value: true, ObservedAt: now},
				"status_word": {Value: int64(0), Unit: "1", ObservedAt: now}, "serial_number": {Value: "VA-1234", ObservedAt: now},
			}},
		{ID: "urn:ngsi-ld:ParkingSpot:fi-p1", Type: "ParkingSpot", Kind: twin.KindSite, Name: "Stallo Piazza San Marco 1",
			Geometry: orb.Point{11.2590, 43.7780}, Gateway: "gw-fi-1", Device: "p1", Category: wire.CategoryParking, Freshness: twin.Fresh, Updated: now,
			Attrs: map[string]twin.Attr{"occupied": {Value: true, ObservedAt: now}}},
	}
}

func evalStr(ctx context.Context, t *testing.T, p *browser.Page, expr string) string {
	t.Helper()
	var s string
	if err := p.Eval(ctx, expr, &s); err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return s
}

func waitPage(ctx context.Context, t *testing.T, p *browser.Page, what, cond string) {
	t.Helper()
	var ms float64
	if err := p.Eval(ctx, browser.WaitJS(cond, 10000), &ms); err != nil {
		t.Fatal(err)
	}
	if ms < 0 {
		p.DrainLog()
		t.Fatalf("%s: not within 10 s (%s)", what, cond)
	}
}

// popupValues reads the popup's values table: label -> value.
const popupValues = `Object.fromEntries([...document.querySelectorAll('.maplibregl-popup table.main tr')].map(r => [r.cells[0].textContent, r.cells[1].textContent]))`

// TestMapOperators: the operators' map in Italian: a popup with names,
// SI symbols, ages, internal points folded and charts (a boolean as share
// of time); search finds a site by its road's name; a gateway's death
// raises the banner, the panel entry and the header's count; the stream
// opens with a ticket, never with the token in its URL.
func TestMapOperators(t *testing.T) {
	needBuilt(t)
	fa := newFakeAPI(t, 8)
	now := time.Now().UTC().Truncate(time.Second)
	fa.sites = append(fa.sites, opsSites(now)...)
	fa.gateways = fleetGateways(now)[:2]
	for i, r := range fa.roads { // the air station lies on Via Cavour
		if strings.Contains(r.Name, "Cavour") {
			fa.sites[len(fa.sites)-2].Road = fa.roads[i].ID
		}
	}
	ctx, p, dir := openMap(t, fa)
	browser.Shot(ctx, t, p, dir, "ops-loaded.png")

	t.Run("stream ticket", func(t *testing.T) {
		fa.mu.Lock()
		urls := append([]string{}, fa.streamURLs...)
		fa.mu.Unlock()
		for _, u := range urls {
			if strings.Contains(u, testToken) || !strings.Contains(u, "ticket=") {
				t.Errorf("stream URL %q: want a ticket and no token", u)
			}
		}
	})

	t.Run("popup in Italian with SI units", func(t *testing.T) {
		if err := p.Eval(ctx, `window.ponteMap.pick("urn:ngsi-ld:AirQualityObserved:fi-cavour"); true`, nil); err != nil {
			t.Fatal(err)
		}
		waitPage(ctx, t, p, "the popup's charts", `document.querySelectorAll('.maplibregl-popup figure.history svg polyline').length >= 3`)
		var rows map[string]string
		if err := p.Eval(ctx, popupValues, &rows); err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]string{"NO₂": "41 µg/m³", "Temperatura": "12,5 °C", "Umidità relativa": "84 %", "Qualità dell'aria": "molto scadente"} {
			if rows[k] != want {
				t.Errorf("popup %s = %q, want %q (rows %v)", k, rows[k], want, rows)
			}
		}
		for _, internal := range []string{"heater_on", "status_word", "serial_number", "heater on", "status word"} {
			if _, shown := rows[internal]; shown {
				t.Errorf("internal point %s among the values", internal)
			}
		}
		tech := evalStr(ctx, t, p, `document.querySelector('.maplibregl-popup details.technical').textContent`)
		if !strings.Contains(tech, "Dettagli tecnici") || !strings.Contains(tech, "VA-1234") || !strings.Contains(tech, "urn:ngsi-ld:AirQualityObserved:fi-cavour") {
			t.Errorf("technical details %q", tech)
		}
		meta := evalStr(ctx, t, p, `document.querySelector('.maplibregl-popup dl.meta').textContent`)
		if !strings.Contains(meta, "Firenze") || !strings.Contains(meta, "Via Cavour") || strings.Contains(meta, "048017") {
			t.Errorf("popup meta %q: want the area's and the road's names, not codes", meta)
		}
		if age := evalStr(ctx, t, p, `document.querySelector('.maplibregl-popup table.main td.age').textContent`); !strings.Contains(age, "fa") && age != "adesso" {
			t.Errorf("value age %q", age)
		}
		// Each chart is captioned with its own series' unit.
		for name, want := range map[string]string{"no2": "(µg/m³)", "temperature": "(°C)", "relativeHumidity": "(%)"} {
			if c := evalStr(ctx, t, p, `document.querySelector('.maplibregl-popup figure.history[data-name="`+name+`"] figcaption').textContent`); !strings.HasSuffix(c, want) {
				t.Errorf("chart of %s captioned %q, want its unit %s", name, c, want)
			}
		}
		if !evalBool(ctx, t, p, `(() => { const r = document.querySelector('.maplibregl-popup').getBoundingClientRect(); const m = document.getElementById('map').getBoundingClientRect();
  return r.top >= m.top && r.bottom <= m.bottom && r.left >= m.left && r.right <= m.right; })()`) {
			t.Error("the popup leaves the map")
		}
		browser.Shot(ctx, t, p, dir, "ops-popup-air.png")
	})

	t.Run("boolean chart", func(t *testing.T) {
		if err := p.Eval(ctx, `window.ponteMap.pick("urn:ngsi-ld:ParkingSpot:fi-p1"); true`, nil); err != nil {
			t.Fatal(err)
		}
		waitPage(ctx, t, p, "the boolean chart", `document.querySelector('.maplibregl-popup figure.history[data-name="occupied"] svg polyline')`)
		cap := evalStr(ctx, t, p, `document.querySelector('.maplibregl-popup figure.history[data-name="occupied"] figcaption').textContent`)
		if !strings.Contains(cap, "quota di tempo") {
			t.Errorf("boolean chart caption %q", cap)
		}
		if !strings.Contains(cap, "(%)") {
			t.Errorf("boolean chart caption %q, want its axis in %%", cap)
		}
		browser.Shot(ctx, t, p, dir, "ops-popup-boolean.png")
	})

	t.Run("search by road name", func(t *testing.T) {
		if err := p.Eval(ctx, `(() => { const i = document.getElementById('search'); i.value = 'via cavour'; i.dispatchEvent(new Event('input')); return true; })()`, nil); err != nil {
			t.Fatal(err)
		}
		names := evalStr(ctx, t, p, `[...document.querySelectorAll('#search-results .result .name')].map(e => e.textContent).join('|')`)
		if !strings.Contains(names, "Centralina Cavour") {
			t.Fatalf("results %q, want the site on Via Cavour", names)
		}
		browser.Shot(ctx, t, p, dir, "ops-search.png")
		// Enter on the focused result opens its popup.
		if err := p.Eval(ctx, `(() => { const b = [...document.querySelectorAll('#search-results .result')].find(b => b.textContent.includes('Centralina Cavour')); b.focus(); b.click(); return true; })()`, nil); err != nil {
			t.Fatal(err)
		}
		waitPage(ctx, t, p, "the picked site's popup", `document.querySelector('.maplibregl-popup h2')?.textContent === 'Centralina Cavour'`)
	})

	t.Run("a gateway dies", func(t *testing.T) {
		g := fa.gateways[0]
		attrs := map[string]twin.Attr{}
		for k, v := range g.Attrs {
			attrs[k] = v
		}
		attrs[twin.AttrDeviceState] = twin.Attr{Value: "offline", ObservedAt: now}
		g.Attrs, g.Freshness = attrs, twin.Offline
		fa.sendEntity(g)
		waitPage(ctx, t, p, "the banner", `!document.getElementById('banner').hidden`)
		if b := evalStr(ctx, t, p, `document.getElementById('banner-text').textContent`); !strings.Contains(b, g.Name) || !strings.Contains(b, "offline") || !strings.Contains(b, "ultimo contatto") {
			t.Errorf("banner %q", b)
		}
		if s := evalStr(ctx, t, p, `document.getElementById('status').textContent`); s != "In diretta · 1 gateway offline" {
			t.Errorf("status %q", s)
		}
		if panel := evalStr(ctx, t, p, `document.getElementById('attention-list').textContent`); !strings.Contains(panel, "Gateway offline (1)") || !strings.Contains(panel, g.Name) {
			t.Errorf("attention panel %q", panel)
		}
		browser.Shot(ctx, t, p, dir, "ops-gateway-offline.png")
	})
}

// reader is a twin.Reader over fixed entities, for the real API.
type reader struct{ ents []twin.Entity }

func (r reader) Entities(f twin.Filter) []twin.Entity {
	var out []twin.Entity
	for _, e := range r.ents {
		if len(f.Types) == 0 || f.Types[0] == string(e.Kind) || f.Types[0] == e.Type {
			out = append(out, e)
		}
	}
	return out
}

func (r reader) Entity(id string) (twin.Entity, bool) {
	for _, e := range r.ents {
		if e.ID == id {
			return e, true
		}
	}
	return twin.Entity{}, false
}
func (reader) Indicators() twin.Indicators { return twin.Indicators{} }
func (reader) Subscribe(twin.Filter, uint64) (<-chan twin.Change, func()) {
	return make(chan twin.Change), func() {}
}
func (reader) LastSeq() uint64 { return 0 }

// TestMapTimeTravel: the time slider shows the values of a past minute
// that the test wrote to a real InfluxDB, read through twin/api's
// snapshot, and "Torna in diretta" brings the live values back.
func TestMapTimeTravel(t *testing.T) {
	needBuilt(t)
	s := influxtest.Start(t)
	fa := newFakeAPI(t, 4)
	now := time.Now().UTC()
	fa.sites = append(fa.sites, opsSites(now.Truncate(time.Second))...)
	site := fa.sites[len(fa.sites)-2]
	past := now.Truncate(time.Minute).Add(-90 * time.Minute).Add(20 * time.Second)
	line := fmt.Sprintf("air,device=%s,gateway=%s no2=87.5,humidity=61 %d", site.Device, site.Gateway, past.UnixNano())
	resp, err := http.Post(s.URL+"/write?db="+s.DB+"&precision=ns", "text/plain", strings.NewReader(line))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("write: %v %v", err, resp)
	}
	resp.Body.Close()
	h, err := api.NewInfluxHistory(s.URL, "", "", s.Bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	real, err := api.New(api.Config{Reader: reader{fa.sites}, Tokens: []string{testToken}, History: h, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	fa.real = real.Handler()
	ctx, p, dir := openMap(t, fa)

	// The slider counts whole minutes back from now: the written minute
	// plus one is 89 back.
	if err := p.Eval(ctx, `(() => { const s = document.getElementById('tt-slider'); s.value = '-89'; s.dispatchEvent(new Event('change')); return true; })()`, nil); err != nil {
		t.Fatal(err)
	}
	waitPage(ctx, t, p, "the past view", `window.ponteMap.pastAt() !== null`)
	if err := p.Eval(ctx, fmt.Sprintf(`window.ponteMap.pick(%q); true`, site.ID), nil); err != nil {
		t.Fatal(err)
	}
	waitPage(ctx, t, p, "the past popup", `document.querySelector('.maplibregl-popup table.main')`)
	var rows map[string]string
	if err := p.Eval(ctx, popupValues, &rows); err != nil {
		t.Fatal(err)
	}
	if rows["NO₂"] != "87,5 µg/m³" || rows["Umidità relativa"] != "61 %" {
		t.Errorf("past values %v, want NO₂ 87,5 µg/m³ and humidity 61 %%", rows)
	}
	if flag := evalStr(ctx, t, p, `document.getElementById('past-flag').textContent`); !strings.HasPrefix(flag, "Passato") {
		t.Errorf("header flag %q", flag)
	}
	browser.Shot(ctx, t, p, dir, "ops-time-travel.png")

	if err := p.Eval(ctx, `document.getElementById('tt-live').click(); true`, nil); err != nil {
		t.Fatal(err)
	}
	waitPage(ctx, t, p, "back to live", `window.ponteMap.pastAt() === null`)
	if err := p.Eval(ctx, fmt.Sprintf(`window.ponteMap.pick(%q); true`, site.ID), nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Eval(ctx, popupValues, &rows); err != nil {
		t.Fatal(err)
	}
	if rows["NO₂"] != "41 µg/m³" {
		t.Errorf("live NO₂ %q after Torna in diretta, want 41 µg/m³", rows["NO₂"])
	}
}
