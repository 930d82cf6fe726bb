package web_test

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/geo"
	"github.com/ponte-city/ponte/internal/testenv/browser"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/api"
	"github.com/ponte-city/ponte/twin/web"
	"github.com/ponte-city/ponte/wire"
)

// hourlyHistory stands in for InfluxDB behind the real API (the InfluxDB
// path is tested in twin/api): a mean per window, shaped as a day's
// traffic noise.
type hourlyHistory struct{}

func (hourlyHistory) History(_ context.Context, _ twin.Entity, _ string, from, to time.Time, every time.Duration) (string, []api.HistoryPoint, error) {
	var pts []api.HistoryPoint
	for t := from; t.Before(to); t = t.Add(every) {
		h := float64(t.Hour())
		pts = append(pts, api.HistoryPoint{Time: t, Value: 50 + 12*math.Sin((h-6)/24*2*math.Pi)})
	}
	return "", pts, nil
}

// Firenze and Fiesole, the two areas with sensors; the other 39
// municipalities of the metropolitan area have none.
const (
	firenze = "048017"
	fiesole = "048015"
)

// servePublic starts the real twin over the 41 municipalities of
// Firenze's metropolitan area with three sensors, the real API and the
// pages, and a parent page that embeds the page in an <iframe> and
// records the heights it is told.
func servePublic(t *testing.T) string {
	t.Helper()
	layer, err := geo.LoadLayer("../../geo/data/firenze-metro-municipalities.geojson", geo.KindAreas, geo.LoadOptions{IDProperty: "com_istat_code"})
	if err != nil {
		t.Fatal(err)
	}
	tw, err := twin.New(twin.Config{Areas: layer, Logger: slog.New(slog.DiscardHandler), Sites: []twin.Site{
		{Gateway: "gw-fi", Device: "nm1", Category: wire.CategoryNoise, Lon: 11.2558, Lat: 43.7696, Interval: time.Minute},
		{Gateway: "gw-fi", Device: "bay1", Category: wire.CategoryParking, Lon: 11.2500, Lat: 43.7750, Interval: time.Minute},
		{Gateway: "gw-fi", Device: "bay2", Category: wire.CategoryParking, Lon: 11.2510, Lat: 43.7755, Interval: time.Minute},
		{Gateway: "gw-fi", Device: "nm2", Category: wire.CategoryNoise, Lon: 11.2930, Lat: 43.8070, Interval: time.Minute},
	}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	tw.Apply("gw-fi", 1, &wire.Batch{Gateway: "gw-fi", Epoch: 1, Seqs: []uint64{1, 4}, Readings: []wire.Reading{
		{Device: "nm1", Point: "LAeq", Value: wire.Float(62.35), Unit: "dB", Time: now, Quality: wire.QualityGood},
		{Device: "bay1", Point: "occupied", Value: wire.Bool(true), Time: now, Quality: wire.QualityGood},
		{Device: "bay2", Point: "occupied", Value: wire.Bool(false), Time: now, Quality: wire.QualityGood},
		{Device: "nm2", Point: "LAeq", Value: wire.Float(48.5), Unit: "dB", Time: now, Quality: wire.QualityGood},
	}})
	a, err := api.New(api.Config{Reader: tw, Tokens: []string{testToken}, History: hourlyHistory{}, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", a.Handler())
	mux.Handle("/", web.Handler())
	mux.HandleFunc("GET /parent.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(parentPage))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// parentPage embeds the page as README.md tells a city to, and records
// every height message.
const parentPage = `<!doctype html><html><head><meta charset="utf-8"><title>Parent</title></head>
<body style="margin:0;background:#f0e9d8"><p>A city's page that embeds Ponte:</p>
<iframe id="f" src="/indicators/?embed=1&area=048017&lang=it" title="Indicatori di Firenze" width="900" height="150" style="border:1px solid #888;display:block"></iframe>
<script>
window.heights = [];
window.addEventListener('message', (e) => {
  if (e.source !== document.getElementById('f').contentWindow || !e.data || e.data.type !== 'ponte:height') return;
  window.heights.push(e.data.height);
  document.getElementById('f').style.height = e.data.height + 'px';
});
</script></body></html>`

// page opens url in a new tab that sends Accept-Language acceptLang
// ("" for the browser's own) and waits until the indicators are drawn.
func page(ctx context.Context, t *testing.T, b *browser.Browser, url, acceptLang string) *browser.Page {
	t.Helper()
	p := b.NewPage(ctx)
	t.Cleanup(p.DrainLog)
	if acceptLang != "" {
		if _, err := p.Call(ctx, "Network.enable", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Call(ctx, "Network.setExtraHTTPHeaders", map[string]any{"headers": map[string]string{"Accept-Language": acceptLang}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Navigate(ctx, url); err != nil {
		t.Fatal(err)
	}
	var ms float64
	if err := p.Eval(ctx, browser.WaitJS("document.body.dataset.ready === 'true'", 15000), &ms); err != nil || ms < 0 {
		p.DrainLog()
		t.Fatalf("%s: the page never drew the indicators (%v)", url, err)
	}
	return p
}

// pageText is what a test reads of the page.
type pageText struct {
	Lang, H1, Generated, Licence, Summary, Folded, Glossary string
	Cards                                                   []string
	Rows                                                    map[string]string
	Definitions                                             int
	HeaderShown, GeneratedShown, LicenceShown               bool
	TrendPoints                                             string
}

const readPage = `(() => {
  const shown = (e) => !!e && getComputedStyle(e).display !== 'none' && e.getClientRects().length > 0;
  const rows = {};
  for (const td of document.querySelectorAll('article.area-card[data-id="048017"] td[data-indicator]')) {
    rows[td.dataset.indicator] = td.closest('tr').querySelector('th').textContent + ' = ' + td.firstChild.textContent;
  }
  const trend = document.querySelector('article.area-card[data-id="048017"] .trend');
  return { Lang: document.documentElement.lang, H1: document.querySelector('h1').textContent,
    Generated: document.getElementById('generated').textContent, Licence: document.getElementById('licence').textContent,
    Summary: document.querySelector('#no-sensors summary').textContent, Folded: document.getElementById('no-sensors-list').textContent,
    Glossary: document.getElementById('glossary-title').textContent,
    Cards: [...document.querySelectorAll('article.area-card')].map((c) => c.dataset.id), Rows: rows,
    Definitions: document.querySelectorAll('#glossary dt').length,
    HeaderShown: shown(document.querySelector('header')), GeneratedShown: shown(document.getElementById('generated')),
    LicenceShown: shown(document.getElementById('licence')), TrendPoints: trend ? (trend.dataset.points || '') : '' };
})()`

func read(ctx context.Context, t *testing.T, p *browser.Page) pageText {
	t.Helper()
	var pt pageText
	if err := p.Eval(ctx, readPage, &pt); err != nil {
		t.Fatal(err)
	}
	return pt
}

// TestPublicPage: the citizens' page in Italian (by default and from
// Accept-Language) and in English (?lang=en and Accept-Language), the
// areas without sensors folded into one line, the definitions once, the
// trend of a day and a week, an embed of one area that keeps its licence
// and timestamp, and the embed's height reaching its parent.
func TestPublicPage(t *testing.T) {
	needBuilt(t)
	base := servePublic(t)
	b := browser.Start(t)
	dir := browser.Artifacts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	for _, tc := range []struct {
		name, query, accept, shot string
		it                        bool
	}{
		{"italian by default", "", "it-IT,it;q=0.9", "indicators-public-it.png", true},
		{"italian from lang", "?lang=it", "en-US,en;q=0.9", "", true},
		{"english from accept-language", "", "en-GB,en;q=0.9", "", false},
		{"english from lang", "?lang=en", "it-IT", "indicators-public-en.png", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := page(ctx, t, b, base+"/indicators/"+tc.query, tc.accept)
			if err := p.Eval(ctx, browser.WaitJS(`document.querySelector('article.area-card[data-id="048017"] .trend svg polyline')`, 10000), nil); err != nil {
				t.Fatal(err)
			}
			got := read(ctx, t, p)
			want := struct{ lang, h1, noise, parking, summary, glossary, generated, licence string }{
				"it", "Indicatori urbani", "Rumore (LAeq) = 62,4 dB(A)", "Occupazione dei parcheggi = 50%", "39 comuni senza sensori",
				"Come si calcolano gli indicatori", "Dati aggiornati al", "Licenza dei dati: CC BY 4.0.",
			}
			if !tc.it {
				want = struct{ lang, h1, noise, parking, summary, glossary, generated, licence string }{
					"en", "Urban indicators", "Noise (LAeq) = 62.4 dB(A)", "Parking occupancy = 50%", "39 municipalities without sensors",
					"How the indicators are computed", "Data as of", "Data licence: CC BY 4.0.",
				}
			}
			if got.Lang != want.lang || got.H1 != want.h1 || got.Glossary != want.glossary || got.Summary != want.summary {
				t.Errorf("page %+v, want %+v", got, want)
			}
			if got.Rows[twin.IndNoiseLAeqMean] != want.noise || got.Rows[twin.IndParkingOccupancy] != want.parking {
				t.Errorf("Firenze's rows %v, want %q and %q", got.Rows, want.noise, want.parking)
			}
			if !strings.HasPrefix(got.Generated, want.generated) || !strings.Contains(got.Licence, want.licence) || !strings.Contains(got.Licence, "ISTAT") {
				t.Errorf("generated %q licence %q", got.Generated, got.Licence)
			}
			// Two cards (the areas with sensors), the 39 others in one line;
			// each definition once.
			if len(got.Cards) != 2 || got.Cards[0] != fiesole || got.Cards[1] != firenze || !strings.Contains(got.Folded, "Bagno a Ripoli") {
				t.Errorf("cards %v, folded %q", got.Cards, got.Folded)
			}
			if got.Definitions != 8 {
				t.Errorf("%d definitions in the glossary, want the 8 indicators once", got.Definitions)
			}
			if got.TrendPoints != "24" {
				t.Errorf("the day's trend has %q points, want 24", got.TrendPoints)
			}
			if tc.shot != "" {
				browser.Shot(ctx, t, p, dir, tc.shot)
			}
		})
	}

	t.Run("folded areas open", func(t *testing.T) {
		p := page(ctx, t, b, base+"/indicators/?lang=it", "")
		var open bool
		if err := p.Eval(ctx, `(() => { const d = document.getElementById('no-sensors'); d.querySelector('summary').click();
  d.scrollIntoView(); return d.open && getComputedStyle(document.getElementById('no-sensors-list')).display !== 'none'; })()`, &open); err != nil || !open {
			t.Fatalf("the folded line did not open: %v", err)
		}
		browser.Shot(ctx, t, p, dir, "indicators-public-folded-open.png")
	})

	t.Run("week trend", func(t *testing.T) {
		p := page(ctx, t, b, base+"/indicators/?lang=it", "")
		var ms float64
		if err := p.Eval(ctx, `document.querySelector('article.area-card[data-id="048017"] .trend button[data-window="7d"]').click()`, nil); err != nil {
			t.Fatal(err)
		}
		if err := p.Eval(ctx, browser.WaitJS(`document.querySelector('article.area-card[data-id="048017"] .trend').dataset.window === '7d'`, 10000), &ms); err != nil || ms < 0 {
			t.Fatalf("the week's trend never showed: %v", err)
		}
		if got := read(ctx, t, p); got.TrendPoints != "168" {
			t.Errorf("the week's trend has %q points, want 168 hourly means", got.TrendPoints)
		}
		var pressed string
		if err := p.Eval(ctx, `document.querySelector('article.area-card[data-id="048017"] .trend button[aria-pressed="true"]').textContent`, &pressed); err != nil || pressed != "7 giorni" {
			t.Errorf("pressed button %q (%v), want 7 giorni", pressed, err)
		}
		browser.Shot(ctx, t, p, dir, "indicators-public-week.png")
	})

	t.Run("embed one area", func(t *testing.T) {
		p := page(ctx, t, b, base+"/indicators/?embed=1&area="+firenze+"&lang=it", "")
		got := read(ctx, t, p)
		if len(got.Cards) != 1 || got.Cards[0] != firenze || got.HeaderShown {
			t.Errorf("embed: cards %v, header shown %v", got.Cards, got.HeaderShown)
		}
		if !got.GeneratedShown || !strings.HasPrefix(got.Generated, "Dati aggiornati al") || !got.LicenceShown || !strings.Contains(got.Licence, "CC BY 4.0") || !strings.Contains(got.Licence, "ISTAT") {
			t.Errorf("embed lost its timestamp or licence: %+v", got)
		}
		browser.Shot(ctx, t, p, dir, "indicators-public-embed-area.png")
	})

	t.Run("embed one indicator", func(t *testing.T) {
		p := page(ctx, t, b, base+"/indicators/?embed=1&areas="+firenze+","+fiesole+"&indicator=noise_laeq_mean&lang=en", "")
		got := read(ctx, t, p)
		if len(got.Cards) != 2 || len(got.Rows) != 1 || got.Rows[twin.IndNoiseLAeqMean] != "Noise (LAeq) = 62.4 dB(A)" || !got.LicenceShown {
			t.Errorf("embed of one indicator: %+v", got)
		}
		browser.Shot(ctx, t, p, dir, "indicators-public-embed-indicator.png")
	})

	t.Run("embed reports its height", func(t *testing.T) {
		p := b.NewPage(ctx)
		defer p.DrainLog()
		if err := p.Navigate(ctx, base+"/parent.html"); err != nil {
			t.Fatal(err)
		}
		var first float64
		if err := p.Eval(ctx, browser.WaitJS(`window.heights.length > 0 && window.heights[window.heights.length-1] > 200 && document.getElementById('f').contentDocument.body.dataset.ready === 'true'`, 15000), &first); err != nil || first < 0 {
			t.Fatalf("no height message from the frame: %v", err)
		}
		var h1, docH float64
		// Let the frame settle (trend drawn), then compare what it said
		// with its document's height.
		if err := p.Eval(ctx, browser.WaitJS(`document.getElementById('f').contentDocument.querySelector('.trend svg') && window.heights[window.heights.length-1] === document.getElementById('f').contentDocument.documentElement.scrollHeight`, 10000), &first); err != nil || first < 0 {
			t.Fatalf("the last height told is not the frame's: %v", err)
		}
		_ = p.Eval(ctx, `window.heights[window.heights.length-1]`, &h1)
		_ = p.Eval(ctx, `document.getElementById('f').contentDocument.documentElement.scrollHeight`, &docH)
		browser.Shot(ctx, t, p, dir, "indicators-public-parent-wide.png")
		// A narrower frame wraps its content: taller, and it says so.
		if err := p.Eval(ctx, `document.getElementById('f').width = 320`, nil); err != nil {
			t.Fatal(err)
		}
		var ms float64
		if err := p.Eval(ctx, browser.WaitJS(`window.heights[window.heights.length-1] > `+ftoa(h1), 10000), &ms); err != nil || ms < 0 {
			var hs []float64
			_ = p.Eval(ctx, `window.heights`, &hs)
			t.Fatalf("no taller height after the frame narrowed: heights %v (first %v, document %v)", hs, h1, docH)
		}
		var iframeH float64
		_ = p.Eval(ctx, `document.getElementById('f').getBoundingClientRect().height`, &iframeH)
		if iframeH <= h1 {
			t.Errorf("the parent did not resize the frame: %v", iframeH)
		}
		browser.Shot(ctx, t, p, dir, "indicators-public-parent-narrow.png")
	})
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
