package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/internal/testenv/browser"
	"github.com/ponte-city/ponte/twin"
)

// Ring colours of gateways by fleet state (README.md).
const (
	ringOK       = "#1a1a1a"
	ringDegraded = "#d55e00"
	ringRevoked  = "#cc79a7"
	ringOffline  = "#595959"
)

// fleetGateways are four gateways beside the fake sites: one well, one
// with failing devices and a backlog, one revoked, one offline for hours.
func fleetGateways(now time.Time) []twin.Entity {
	at := func(d time.Duration) string { return now.Add(-d).UTC().Format(time.RFC3339) }
	attrs := func(state, version, seen string, buffered, up, bad int64, revoked bool, oldest string) map[string]twin.Attr {
		m := map[string]twin.Attr{
			twin.AttrDeviceState: {Value: state, ObservedAt: now}, twin.AttrSoftwareVersion: {Value: version, ObservedAt: now},
			twin.AttrLastSeen: {Value: seen, ObservedAt: now}, twin.AttrBuffered: {Value: buffered, Unit: "1", ObservedAt: now},
			twin.AttrDevicesUp: {Value: up, Unit: "1", ObservedAt: now}, twin.AttrDevicesBad: {Value: bad, Unit: "1", ObservedAt: now},
			twin.AttrRevoked: {Value: revoked, ObservedAt: now},
		}
		if oldest != "" {
			m[twin.AttrOldestUnsent] = twin.Attr{Value: oldest, ObservedAt: now}
		}
		return m
	}
	gw := func(n int, p orb.Point, fr twin.Freshness, a map[string]twin.Attr) twin.Entity {
		id := fmt.Sprintf("gw-fi-%d", n)
		return twin.Entity{ID: twin.GatewayEntityID(id), Type: "Device", Kind: twin.KindGateway, Name: id, Gateway: id,
			Geometry: p, Freshness: fr, Attrs: a}
	}
	return []twin.Entity{
		gw(1, orb.Point{11.2330, 43.7625}, twin.Fresh, attrs("online", "1.4.0", at(2*time.Minute), 0, 20, 0, false, "")),
		gw(2, orb.Point{11.2620, 43.7625}, twin.Fresh, attrs("online", "1.4.0", at(30*time.Second), 1200, 17, 3, false, at(15*time.Minute))),
		gw(3, orb.Point{11.2330, 43.7860}, twin.Stale, attrs("online", "1.3.2", at(40*time.Minute), 0, 5, 0, true, "")),
		gw(4, orb.Point{11.2620, 43.7860}, twin.Offline, attrs("offline", "1.4.0", at(3*time.Hour), 5400, 0, 0, false, at(3*time.Hour))),
	}
}

// TestMapFleet: the map draws the gateways ringed by their fleet state,
// repaints a gateway whose devices start failing, drops a removed site,
// and a gateway's popup shows its version, last seen, backlog and devices.
func TestMapFleet(t *testing.T) {
	needBuilt(t)
	api := newFakeAPI(t, 20)
	api.gateways = fleetGateways(time.Now())
	ctx, p, dir := openMap(t, api)
	evalString := func(expr string) string {
		t.Helper()
		var s string
		if err := p.Eval(ctx, expr, &s); err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return s
	}
	waitFor := func(what, cond string) {
		t.Helper()
		var ms float64
		if err := p.Eval(ctx, browser.WaitJS(cond, 5000), &ms); err != nil {
			t.Fatal(err)
		}
		if ms < 0 {
			t.Fatalf("%s: not within 5 s (%s)", what, cond)
		}
	}
	gws := api.gateways

	t.Run("gateways ringed by fleet state", func(t *testing.T) {
		var n int
		if err := p.Eval(ctx, "window.ponteMap.featureCount('gateway')", &n); err != nil || n != len(gws) {
			t.Fatalf("featureCount('gateway') = %d (%v), want %d", n, err, len(gws))
		}
		for i, want := range []string{ringOK, ringDegraded, ringRevoked, ringOffline} {
			if got := evalString(fmt.Sprintf("window.ponteMap.featureRing(%q)", gws[i].ID)); got != want {
				t.Errorf("%s ring %q, want %q", gws[i].Name, got, want)
			}
		}
		if got := evalString(fmt.Sprintf("window.ponteMap.featureColor(%q)", gws[3].ID)); got != colorOffline {
			t.Errorf("offline gateway filled %q, want %q", got, colorOffline)
		}
		var legend string
		if err := p.Eval(ctx, "document.getElementById('legend-gateways').textContent", &legend); err != nil || !strings.Contains(legend, "revocato") {
			t.Errorf("gateway legend %q", legend)
		}
	})

	t.Run("a gateway whose devices fail is repainted", func(t *testing.T) {
		g := gws[0]
		attrs := map[string]twin.Attr{}
		for k, v := range g.Attrs {
			attrs[k] = v
		}
		attrs[twin.AttrDevicesBad] = twin.Attr{Value: int64(2), Unit: "1", ObservedAt: time.Now()}
		g.Attrs = attrs
		api.sendEntity(g)
		waitFor("ring of "+g.Name, fmt.Sprintf("window.ponteMap.featureRing(%q) === %q", g.ID, ringDegraded))
	})

	t.Run("a removed site leaves the map", func(t *testing.T) {
		site := api.sites[0]
		if !evalBool(ctx, t, p, fmt.Sprintf("window.ponteMap.drawn(%q)", site.ID)) {
			t.Fatalf("site %s not drawn before its removal", site.ID)
		}
		want := len(api.sites) - 1
		api.sendRemoved(site)
		waitFor("removal of "+site.ID, fmt.Sprintf("!window.ponteMap.drawn(%q) && window.ponteMap.featureCount('site') === %d", site.ID, want))
		if !evalBool(ctx, t, p, fmt.Sprintf("window.ponteMap.drawn(%q)", api.sites[0].ID)) {
			t.Errorf("the next site %s went too", api.sites[0].ID)
		}
	})

	t.Run("gateway popup", func(t *testing.T) {
		g := gws[1]
		pt := g.Geometry.(orb.Point)
		click := fmt.Sprintf(`(() => { const m = window.ponteMap.map; const ll = [%f, %f];
  m.fire('click', { point: m.project(ll), lngLat: new (m.getCenter().constructor)(ll[0], ll[1]) }); return true; })()`, pt[0], pt[1])
		if err := p.Eval(ctx, click, nil); err != nil {
			t.Fatal(err)
		}
		waitFor("the gateway popup", "document.querySelector('.maplibregl-popup table.fleet')")
		var rows map[string]string
		if err := p.Eval(ctx, `Object.fromEntries([...document.querySelectorAll('.maplibregl-popup table.fleet tr')].map(r => [r.cells[0].textContent, r.cells[1].textContent]))`, &rows); err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]string{"Stato": "dispositivi in errore", "Versione": "1.4.0", "Ultimo contatto": " fa (",
			"Letture in coda": "1200", "Più vecchia non inviata": "15 min fa (", "Dispositivi attivi": "17", "Dispositivi in errore": "3", "Revocato": "no"} {
			if !strings.Contains(rows[k], want) {
				t.Errorf("popup %s = %q, want it to contain %q (rows %v)", k, rows[k], want, rows)
			}
		}
		if evalBool(ctx, t, p, "!!document.querySelector('.maplibregl-popup figure.history')") {
			t.Error("a gateway's popup asks for a history, which gateways have none of")
		}
		if title := evalString("document.querySelector('.maplibregl-popup h2').textContent"); title != g.Name {
			t.Errorf("popup title %q, want %q", title, g.Name)
		}
	})
	browser.Shot(ctx, t, p, dir, "map-fleet.png")
}

func evalBool(ctx context.Context, t *testing.T, p *browser.Page, expr string) bool {
	t.Helper()
	var b bool
	if err := p.Eval(ctx, expr, &b); err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return b
}
