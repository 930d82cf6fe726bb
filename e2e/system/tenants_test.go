package system_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/internal/testenv/browser"
	"github.com/ponte-city/ponte/twin"
)

// The tenants of TestTenantPages: Firenze's and Bari's municipalities,
// each with its gateway; Bari publishes its open data under its own
// licence, Firenze under the platform's.
const tenantsYAML = `tenants:
  - id: firenze
    name: Comune di Firenze
    areas: ["` + fiArea + `"]
    gateways: [` + fiGW + `]
    tokens: [firenze-e2e-token-0123456789]
  - id: bari
    name: Comune di Bari
    areas: ["` + baArea + `"]
    gateway_prefixes: [ba-]
    tokens: [bari-e2e-token-0123456789]
    licence: {name: IODL 2.0, url: "https://www.dati.gov.it/iodl/2.0/", attribution: Comune di Bari}
`

// indicatorsPage is what a person sees of the indicators page, read from
// its DOM (visible elements only where it matters).
type indicatorsPage struct {
	Title, Lang, H1 string
	// Tenant is the text under the title, if it shows; TenantBelowTitle
	// that it is laid out under the h1.
	Tenant           string
	TenantBelowTitle bool
	AreasTitle       string
	CityTitle        string // the city block's heading, if it shows
	Cards            []string
	AllCards         int // every card shown, the whole city's included
	CardNames        []string
	RowLabels        []string // the indicators' labels in the cards
	Licence          string
	LicenceLinks     []string
	Downloads        []string // the download links' paths
	NoScript         []string // the paths of the links for a browser without scripts
	Regions          []string // the choropleth's areas
	// Framed is the share of the choropleth's drawing box its regions
	// fill across (the larger of width and height shares).
	Framed float64
	// APIPaths are the paths of the API requests the page made.
	APIPaths []string
}

// readIndicatorsPage opens url as a browser set to Italian (Accept-Language
// it-IT) does, waits until the page rendered its cards and choropleth and
// returns what it shows.
func readIndicatorsPage(ctx context.Context, t *testing.T, p *browser.Page, url string) indicatorsPage {
	t.Helper()
	if _, err := p.Call(ctx, "Network.enable", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Call(ctx, "Network.setExtraHTTPHeaders", map[string]any{"headers": map[string]string{"Accept-Language": "it-IT,it;q=0.9"}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Navigate(ctx, url); err != nil {
		t.Fatal(err)
	}
	var ms float64
	if err := p.Eval(ctx, browser.WaitJS(`document.body.dataset.ready === 'true' && document.querySelectorAll('#choropleth-map path[data-id]').length > 0`, 20000), &ms); err != nil || ms < 0 {
		p.DrainLog()
		t.Fatalf("%s never rendered its cards and choropleth: %v", url, err)
	}
	var got indicatorsPage
	if err := p.Eval(ctx, `(() => {
  const shown = (e) => !!e && !e.closest('[hidden]') && e.getClientRects().length > 0;
  const text = (sel) => { const e = document.querySelector(sel); return shown(e) ? e.textContent.trim() : ''; };
  const tenant = document.getElementById('tenant'), h1 = document.querySelector('h1');
  const svg = document.querySelector('#choropleth-map svg');
  let framed = 0;
  if (svg) {
    const vb = svg.viewBox.baseVal, b = svg.getBBox();
    framed = Math.max(b.width / vb.width, b.height / vb.height);
  }
  return {
    Title: document.title, Lang: document.documentElement.lang, H1: text('h1'),
    Tenant: text('#tenant'),
    TenantBelowTitle: shown(tenant) && tenant.getBoundingClientRect().top >= h1.getBoundingClientRect().bottom,
    AreasTitle: text('#areas-title'), CityTitle: text('#city-title'),
    Cards: [...document.querySelectorAll('article.area-card')].filter(shown).map((c) => c.dataset.id),
    AllCards: [...document.querySelectorAll('article.card')].filter(shown).length,
    NoScript: [...new DOMParser().parseFromString(document.querySelector('noscript').textContent, 'text/html').querySelectorAll('a')]
      .map((a) => new URL(a.getAttribute('href'), location.href).pathname),
    CardNames: [...document.querySelectorAll('article.area-card h3')].filter(shown).map((h) => h.textContent),
    RowLabels: [...document.querySelectorAll('article.card th[scope=row]')].filter(shown).map((th) => th.textContent),
    Licence: text('#licence'),
    LicenceLinks: [...document.querySelectorAll('#licence a')].map((a) => a.href),
    Downloads: [...document.querySelectorAll('.downloads a')].filter(shown).map((a) => new URL(a.href).pathname),
    Regions: [...document.querySelectorAll('#choropleth-map path[data-id]')].map((p) => p.dataset.id),
    Framed: framed,
    APIPaths: performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname).filter((p) => p.includes('/api/')),
  };
})()`, &got); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestTenantPages: each municipality's public indicators page, as a
// citizen opens it on the real ingest with two tenants (Firenze's and
// Bari's municipalities, a gateway in each sending readings): its
// tenant's name under the title and in the tab's title, Italian labels,
// its own areas' cards and choropleth only (framed on them), its licence,
// and downloads and requests to its own API only; the platform's page
// shows both cities. Each page is a screenshot.
func TestTenantPages(t *testing.T) {
	testenv.Integration(t, "headless Chromium and the whole chain in-process")
	needBuilt(t)
	shots := browser.Artifacts(t)
	sys := startSystem(t, t.TempDir(), tenantsYAML)
	ing, tw := sys.ing, sys.ing.Twin

	// Firenze's gateway is the real agent on simulated Modbus devices;
	// Bari's batches are published as its gateway would.
	testenv.WriteFile(t, sys.fiSite, siteYAML(fiGW, ing.BrokerURL, e2ePassword(fiGW), sys.fiBuf, sys.modbusAddr, fiDevices))
	startAgent(t, sys.fiSite)
	publishBari(t, connectBari(t, ing.BrokerURL), sys.cfg.Topics())
	for _, devs := range [][]e2eDevice{baDevices, fiDevices} {
		testenv.Eventually(t, 20*time.Second, devs[0].name+"'s city's sites fresh in the twin", func() bool {
			for _, d := range devs {
				if e, _ := tw.Entity(d.entity); e.Freshness != twin.Fresh {
					return false
				}
			}
			return true
		})
	}

	itLabels, enLabels := map[string]bool{}, map[string]bool{}
	for _, d := range twin.IndicatorDefinitions("it") {
		itLabels[d.Label] = true
	}
	for _, d := range twin.IndicatorDefinitions("en") {
		if !itLabels[d.Label] {
			enLabels[d.Label] = true
		}
	}

	b := browser.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	base := "http://" + ing.HTTP

	for _, c := range []struct {
		tenant, name, area, other string
		licence, attribution      string
		licenceURL                string
	}{
		{"bari", "Comune di Bari", baArea, fiArea, "IODL 2.0", "Comune di Bari", "https://www.dati.gov.it/iodl/2.0/"},
		{"firenze", "Comune di Firenze", fiArea, baArea, "CC BY 4.0", "ISTAT", "https://creativecommons.org/licenses/by/4.0/"},
	} {
		t.Run(c.tenant, func(t *testing.T) {
			p := b.NewPage(ctx)
			defer p.DrainLog()
			got := readIndicatorsPage(ctx, t, p, base+"/t/"+c.tenant+"/indicators/")
			browser.Shot(ctx, t, p, shots, "indicators-tenant-"+c.tenant+".png")
			if got.Tenant != c.name || !got.TenantBelowTitle {
				t.Errorf("under the title %q (laid out below it: %v), want %q", got.Tenant, got.TenantBelowTitle, c.name)
			}
			if !strings.Contains(got.Title, c.name) {
				t.Errorf("the tab's title %q does not name %s", got.Title, c.name)
			}
			if got.Lang != "it" || got.H1 != "Indicatori urbani" || got.AreasTitle != "Aree" {
				t.Errorf("not in Italian: lang %q, h1 %q, areas' heading %q", got.Lang, got.H1, got.AreasTitle)
			}
			if len(got.RowLabels) == 0 {
				t.Error("no indicator shows in the cards")
			}
			for _, l := range got.RowLabels {
				if !itLabels[l] || enLabels[l] {
					t.Errorf("indicator label %q is not one of the Italian definitions", l)
				}
			}
			if !slices.Equal(got.Cards, []string{c.area}) {
				t.Errorf("area cards %v (%v), want only %s's area %s", got.Cards, got.CardNames, c.name, c.area)
			}
			if !slices.Equal(got.Regions, []string{c.area}) {
				t.Errorf("choropleth regions %v, want only %s's area %s", got.Regions, c.name, c.area)
			}
			// The map is framed on the tenant's area: its region fills the
			// drawing across (not a speck in the metropolitan area's box).
			if got.Framed < 0.9 {
				t.Errorf("the tenant's region fills %.0f%% of the choropleth across, want it framed (>= 90%%)", 100*got.Framed)
			}
			if !strings.Contains(got.Licence, c.licence) || !strings.Contains(got.Licence, c.attribution) || !slices.Contains(got.LicenceLinks, c.licenceURL) {
				t.Errorf("licence line %q (links %v), want %s by %s linking %s", got.Licence, got.LicenceLinks, c.licence, c.attribution, c.licenceURL)
			}
			if c.licence != "IODL 2.0" && strings.Contains(got.Licence, "IODL") {
				t.Errorf("licence line %q names another tenant's licence", got.Licence)
			}
			if strings.Contains(got.Licence+got.Tenant+strings.Join(got.CardNames, " "), otherCity(c.tenant)) {
				t.Errorf("the page names %s: licence %q, cards %v", otherCity(c.tenant), got.Licence, got.CardNames)
			}
			// The municipality's indicators are its area's card: a block
			// "the whole city" repeating them (or naming the city) would
			// read as the metropolitan area's.
			if got.AllCards != 1 || (got.CityTitle != "" && got.CityTitle != c.name) {
				t.Errorf("%d cards, the whole's block titled %q: want %s's indicators once", got.AllCards, got.CityTitle, c.name)
			}
			prefix := "/t/" + c.tenant + "/api/v1/"
			if len(got.Downloads) != 2 || len(got.NoScript) != 4 {
				t.Errorf("download links %v, without scripts %v: want the CSV and the JSON", got.Downloads, got.NoScript)
			}
			for _, d := range append(got.Downloads, got.NoScript...) {
				if !strings.HasPrefix(d, prefix) {
					t.Errorf("download link %s is not under %s", d, prefix)
				}
			}
			if len(got.APIPaths) == 0 {
				t.Error("the page made no API request the check could see")
			}
			for _, a := range got.APIPaths {
				if !strings.HasPrefix(a, prefix) {
					t.Errorf("the page asked %s, not its tenant's API %s", a, prefix)
				}
			}
		})
	}

	t.Run("platform", func(t *testing.T) {
		p := b.NewPage(ctx)
		defer p.DrainLog()
		got := readIndicatorsPage(ctx, t, p, base+"/indicators/")
		browser.Shot(ctx, t, p, shots, "indicators-tenant-none-platform.png")
		if got.Tenant != "" || strings.Contains(got.Title, "Comune di") {
			t.Errorf("the platform's page names a tenant: %q, title %q", got.Tenant, got.Title)
		}
		for _, a := range []string{fiArea, baArea} {
			if !slices.Contains(got.Cards, a) {
				t.Errorf("area cards %v lack %s", got.Cards, a)
			}
		}
		if len(got.Regions) != nAreas {
			t.Errorf("%d choropleth regions, want both metropolitan areas' %d", len(got.Regions), nAreas)
		}
		if !strings.Contains(got.Licence, "CC BY 4.0") {
			t.Errorf("licence line %q, want the platform's CC BY 4.0", got.Licence)
		}
		if got.CityTitle != "Tutta la città" {
			t.Errorf("the whole's block titled %q, want Tutta la città", got.CityTitle)
		}
		for _, d := range append(got.Downloads, got.NoScript...) {
			if !strings.HasPrefix(d, "/api/v1/") {
				t.Errorf("download link %s is not the platform's API", d)
			}
		}
	})
}

// otherCity is the name of the city that is not tenant's.
func otherCity(tenant string) string {
	if tenant == "bari" {
		return "Firenze"
	}
	return "Bari"
}
