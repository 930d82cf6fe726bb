package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
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

// The two operators of the commands' test: each holds a token of their own.
const (
	tokenMaria = "token-maria-0001"
	tokenLuca  = "token-luca-0002"
)

// Sites of the commands' test: a DALI lighting line (writable through
// the Intesis profile) and a noise meter (read-only).
const (
	daliSite  = "urn:ngsi-ld:Streetlight:fi-dali-cavour"
	noiseSite = "urn:ngsi-ld:NoiseLevelObserved:fi-nm-1"
	// signSite is a message sign: the Ditel display of firmware-profiles.
	signSite = "urn:ngsi-ld:Device:fi-sign-parterre"
)

// serveCommands starts the real twin (Firenze's municipalities, the two
// sites), the real API with two operator tokens and the fake commands
// handler, and the pages.
func serveCommands(t *testing.T) (string, *fakeCommands) {
	t.Helper()
	munis, err := geo.LoadLayer("../../geo/data/firenze-metro-municipalities.geojson", geo.KindAreas, geo.LoadOptions{IDProperty: "com_istat_code"})
	if err != nil {
		t.Fatal(err)
	}
	tw, err := twin.New(twin.Config{Areas: munis, Logger: slog.New(slog.DiscardHandler), Sites: []twin.Site{
		{Gateway: "gw-fi", Device: "dali-cavour", Entity: daliSite, Category: wire.CategoryEnergy, Lon: 11.2575, Lat: 43.7768, Interval: time.Minute},
		{Gateway: "gw-fi", Device: "nm-1", Entity: noiseSite, Category: wire.CategoryNoise, Lon: 11.2600, Lat: 43.7750, Interval: time.Minute},
		{Gateway: "gw-fi", Device: "sign-parterre", Entity: signSite, Category: wire.CategorySignal, Lon: 11.2550, Lat: 43.7790, Interval: time.Minute},
	}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	tw.Apply("gw-fi", 1, &wire.Batch{Gateway: "gw-fi", Epoch: 1, Seqs: []uint64{1, 2}, Readings: []wire.Reading{
		{Device: "dali-cavour", Point: "line_level", Value: wire.Float(100), Unit: "%", Time: now, Quality: wire.QualityGood},
		{Device: "nm-1", Point: "LAeq", Value: wire.Float(61), Unit: "dB", Time: now, Quality: wire.QualityGood},
	}})
	fc := newFakeCommands(t)
	fc.addSite(daliSite, "gw-fi", "dali-cavour", "../../firmware-profiles/intesis-dali-modbus.yaml")
	fc.setCurrent(daliSite, "line_level", 100)
	fc.setCurrent(daliSite, "line_on", 1)
	fc.addSite(signSite, "gw-fi", "sign-parterre", "../../firmware-profiles/ditel-dn-display-modbus.yaml")
	a, err := api.New(api.Config{Reader: tw, Tokens: []string{tokenMaria, tokenLuca}, Commands: fc, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", a.Handler())
	mux.Handle("/", web.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, fc
}

// openOperator opens the map as the holder of token, ready, with the
// commands' button shown.
func openOperator(ctx context.Context, t *testing.T, b *browser.Browser, base, token string) *browser.Page {
	t.Helper()
	return openOperatorQuery(ctx, t, b, base, "", token)
}

// openOperatorQuery is openOperator with a query string ("?lang=en").
func openOperatorQuery(ctx context.Context, t *testing.T, b *browser.Browser, base, query, token string) *browser.Page {
	t.Helper()
	p := b.NewPage(ctx)
	t.Cleanup(p.DrainLog)
	if err := p.Navigate(ctx, base+"/map/"+query+"#token="+token); err != nil {
		t.Fatal(err)
	}
	waitPage(ctx, t, p, "the map", `window.ponteMap && window.ponteMap.map.loaded()`)
	if err := p.Eval(ctx, "window.ponteMap.ready", nil); err != nil {
		p.DrainLog()
		t.Fatalf("map not ready: %v", err)
	}
	waitPage(ctx, t, p, "the commands' button", `document.getElementById('commands-toggle')`)
	return p
}

// js runs a statement on the page.
func js(ctx context.Context, t *testing.T, p *browser.Page, stmt string) {
	t.Helper()
	if err := p.Eval(ctx, `(() => { `+stmt+`; return true; })()`, nil); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// pointForm is the popup's form of a point.
func pointForm(point string) string {
	return `document.querySelector('.maplibregl-popup form.cmd-point[data-point="` + point + `"]')`
}

// popupStatus reads a point's status line in the popup.
func popupStatus(ctx context.Context, t *testing.T, p *browser.Page, point string) string {
	t.Helper()
	return evalStr(ctx, t, p, pointForm(point)+`.querySelector('.cmd-status').textContent`)
}

// showSection scrolls the popup to its commands for a screenshot.
func showSection(ctx context.Context, t *testing.T, p *browser.Page, point string) {
	t.Helper()
	js(ctx, t, p, pointForm(point)+`.scrollIntoView({block: 'end'})`)
}

// fill types the operator's name and the reason into the popup.
func fill(ctx context.Context, t *testing.T, p *browser.Page, operator, reason string) {
	t.Helper()
	js(ctx, t, p, fmt.Sprintf(`const s = document.querySelector('.maplibregl-popup section.commands');
  s.querySelector('input[name=operator]').value = %q; s.querySelector('input[name=reason]').value = %q`, operator, reason))
}

// setLevel types v into the line level's number input.
func setLevel(ctx context.Context, t *testing.T, p *browser.Page, v string) {
	t.Helper()
	js(ctx, t, p, fmt.Sprintf(`const i = %s.querySelector('input[name=value]'); i.value = %q; i.dispatchEvent(new Event('input'))`, pointForm("line_level"), v))
}

func submit(ctx context.Context, t *testing.T, p *browser.Page, point string) {
	t.Helper()
	js(ctx, t, p, pointForm(point)+`.querySelector('.cmd-send').click()`)
}

// latestCommand is the command the page sent last.
func latestCommand(t *testing.T, fc *fakeCommands) fakeCommand {
	t.Helper()
	c, _, ok := fc.latest()
	if !ok {
		t.Fatal("no command was issued")
	}
	return c
}

func ptr(v float64) *float64 { return &v }

// TestMapCommands: commands on the operators' map against the real
// twin/api with the fake commands handler. The popup of a DALI line
// shows its two writable points (a range with a number input and a
// slider, an enumeration with one button per labelled value), the noise
// meter's none; a level sent is followed to "applicato (letto 40 %)";
// the page's own check stops 120 %, and a refusal of the server (its
// profile changed since the popup opened) shows the server's words; a
// point needing approval waits "in attesa di approvazione", its issuer
// cannot approve it, a second operator (another token) approves one and
// rejects another, and the panel lists the ended commands.
func TestMapCommands(t *testing.T) {
	needBuilt(t)
	base, fc := serveCommands(t)
	dir := browser.Artifacts(t)
	b := browser.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	maria := openOperator(ctx, t, b, base, tokenMaria)

	t.Run("controls for a writable site, none for a read-only one", func(t *testing.T) {
		js(ctx, t, maria, `window.ponteMap.pick('`+noiseSite+`')`)
		waitPage(ctx, t, maria, "the noise meter's popup", `document.querySelector('.maplibregl-popup table.main')`)
		// Its points were asked for (404): the section went away.
		waitPage(ctx, t, maria, "no commands section", `!document.querySelector('.maplibregl-popup section.commands')`)

		js(ctx, t, maria, `window.ponteMap.pick('`+daliSite+`')`)
		waitPage(ctx, t, maria, "the DALI line's commands", pointForm("line_on"))
		sec := evalStr(ctx, t, maria, `document.querySelector('.maplibregl-popup section.commands').innerText`)
		for _, want := range []string{"Comandi", "Livello della linea", "attuale: 100 %", "da 1 a 100 %", "passo 1", "valore sicuro: 100 %",
			"Accensione della linea", "richiede approvazione", "spenta", "accesa al 100 %", "Motivo", "Operatore", "Invia comando"} {
			if !strings.Contains(sec, want) {
				t.Errorf("commands section lacks %q:\n%s", want, sec)
			}
		}
		if strings.Count(sec, "richiede approvazione") != 1 {
			t.Errorf("approval marked %d times, want on line_on only:\n%s", strings.Count(sec, "richiede approvazione"), sec)
		}
		var rng struct{ Min, Max, Step, Value, Slider string }
		if err := maria.Eval(ctx, `(() => { const f = `+pointForm("line_level")+`; const i = f.querySelector('input[name=value]'); const s = f.querySelector('input[type=range]');
  return {Min: i.min, Max: i.max, Step: i.step, Value: i.value, Slider: s.min + '-' + s.max + '/' + s.step}; })()`, &rng); err != nil {
			t.Fatal(err)
		}
		if rng.Min != "1" || rng.Max != "100" || rng.Step != "1" || rng.Value != "100" || rng.Slider != "1-100/1" {
			t.Errorf("line level's controls %+v, want 1..100 step 1 at the current 100", rng)
		}
		if labels := evalStr(ctx, t, maria, `[...`+pointForm("line_on")+`.querySelectorAll('.cmd-choice')].map(b => b.textContent).join('|')`); labels != "spenta|accesa al 100 % (attuale)" {
			t.Errorf("line_on's buttons %q", labels)
		}
		// Every input is labelled, every status is announced.
		if n := evalStr(ctx, t, maria, `String([...document.querySelectorAll('.maplibregl-popup section.commands input')].filter(i => !i.labels.length && !i.getAttribute('aria-label')).length)`); n != "0" {
			t.Errorf("%s unlabelled inputs in the commands section", n)
		}
		if live := evalStr(ctx, t, maria, `[...document.querySelectorAll('.maplibregl-popup .cmd-status')].map(s => s.getAttribute('aria-live')).join(',')`); live != "polite,polite" {
			t.Errorf("status lines' aria-live %q", live)
		}
		// The safe value shortcut sets the control.
		setLevel(ctx, t, maria, "30")
		js(ctx, t, maria, pointForm("line_level")+`.querySelector('.cmd-safe').click()`)
		if v := evalStr(ctx, t, maria, pointForm("line_level")+`.querySelector('input[name=value]').value`); v != "100" {
			t.Errorf("after valore sicuro the level is %q, want 100", v)
		}
		showSection(ctx, t, maria, "line_level")
		browser.Shot(ctx, t, maria, dir, "commands-popup.png")
	})

	t.Run("the page's own check", func(t *testing.T) {
		fill(ctx, t, maria, "Maria Rossi", "lavori stradali")
		setLevel(ctx, t, maria, "120")
		submit(ctx, t, maria, "line_level")
		if s := popupStatus(ctx, t, maria, "line_level"); s != "Il valore 120 supera il massimo 100 %" {
			t.Errorf("status %q, want the page's check", s)
		}
		if _, posts, _ := fc.latest(); posts != 0 {
			t.Errorf("%d commands posted, want none for a value the page refuses", posts)
		}
		fill(ctx, t, maria, "Maria Rossi", "")
		setLevel(ctx, t, maria, "40")
		submit(ctx, t, maria, "line_level")
		if s := popupStatus(ctx, t, maria, "line_level"); s != "Indicare il motivo" {
			t.Errorf("status %q without a reason", s)
		}
	})

	t.Run("a dimming level is applied", func(t *testing.T) {
		fill(ctx, t, maria, "Maria Rossi", "lavori stradali")
		setLevel(ctx, t, maria, "40")
		submit(ctx, t, maria, "line_level")
		waitPage(ctx, t, maria, "queued", pointForm("line_level")+`.dataset.state === 'queued'`)
		c := latestCommand(t, fc)
		if c.Point != "line_level" || c.Value != 40 || c.Reason != "lavori stradali" || c.Operator.Name != "Maria Rossi" || c.Entity != daliSite {
			t.Fatalf("command sent %+v", c)
		}
		if s := popupStatus(ctx, t, maria, "line_level"); !strings.Contains(s, "in coda per il gateway") {
			t.Errorf("status %q, want in coda per il gateway", s)
		}
		fc.report(c.ID, "received", nil, "")
		waitPage(ctx, t, maria, "received", pointForm("line_level")+`.querySelector('.cmd-status').textContent.includes('ricevuto dal gateway')`)
		fc.report(c.ID, "applied", ptr(40), "")
		waitPage(ctx, t, maria, "applied", pointForm("line_level")+`.querySelector('.cmd-status').textContent.includes('applicato (letto 40 %)')`)
		if st := evalStr(ctx, t, maria, pointForm("line_level")+`.querySelector('.cmd-status').textContent`); !strings.HasPrefix(st, "✓") {
			t.Errorf("applied status %q: want a mark besides the colour", st)
		}
		if cur := evalStr(ctx, t, maria, pointForm("line_level")+`.querySelector('.cmd-current').textContent`); cur != "attuale: 40 %" {
			t.Errorf("current value after the read-back %q, want attuale: 40 %%", cur)
		}
		if who := evalStr(ctx, t, maria, `localStorage.getItem('ponte.operator')`); who != "Maria Rossi" {
			t.Errorf("operator kept as %q", who)
		}
		showSection(ctx, t, maria, "line_level")
		browser.Shot(ctx, t, maria, dir, "commands-applied.png")
	})

	t.Run("the server's refusal is shown as it comes", func(t *testing.T) {
		// The profile changed on the server after the popup opened: 80 % at most.
		w := fc.rules(daliSite, "line_level")
		old := w.Max
		w.Max = ptr(80)
		defer func() { w.Max = old }()
		setLevel(ctx, t, maria, "90")
		submit(ctx, t, maria, "line_level")
		waitPage(ctx, t, maria, "the server's message", pointForm("line_level")+`.querySelector('.cmd-status').dataset.state === 'error'`)
		if s := popupStatus(ctx, t, maria, "line_level"); s != "value 90 is above the maximum 80 %" {
			t.Errorf("status %q, want the server's own message", s)
		}
		showSection(ctx, t, maria, "line_level")
		browser.Shot(ctx, t, maria, dir, "commands-server-refusal.png")
	})

	var awaiting, toReject fakeCommand
	t.Run("a point needing approval waits", func(t *testing.T) {
		js(ctx, t, maria, pointForm("line_on")+`.querySelector('.cmd-choice[data-value="0"]').click()`)
		if pressed := evalStr(ctx, t, maria, `[...`+pointForm("line_on")+`.querySelectorAll('.cmd-choice')].map(b => b.getAttribute('aria-pressed')).join(',')`); pressed != "true,false" {
			t.Errorf("choice buttons pressed %q after picking spenta", pressed)
		}
		fill(ctx, t, maria, "Maria Rossi", "guasto alla linea")
		submit(ctx, t, maria, "line_on")
		waitPage(ctx, t, maria, "awaiting approval", pointForm("line_on")+`.dataset.state === 'awaiting_approval'`)
		if s := popupStatus(ctx, t, maria, "line_on"); !strings.Contains(s, "in attesa di approvazione") {
			t.Errorf("status %q", s)
		}
		awaiting = latestCommand(t, fc)
		if awaiting.Value != 0 || awaiting.State != "awaiting_approval" {
			t.Fatalf("command %+v", awaiting)
		}
		showSection(ctx, t, maria, "line_on")
		browser.Shot(ctx, t, maria, dir, "commands-awaiting.png")

		js(ctx, t, maria, `document.getElementById('commands-toggle').click()`)
		item := `document.querySelector('#commands-panel .cmd-list.open li[data-command="` + awaiting.ID + `"]')`
		waitPage(ctx, t, maria, "the panel's open command", item)
		if ex := evalStr(ctx, t, maria, `document.getElementById('commands-toggle').getAttribute('aria-expanded')`); ex != "true" {
			t.Errorf("toggle aria-expanded %q", ex)
		}
		text := evalStr(ctx, t, maria, item+`.innerText`)
		for _, want := range []string{"Accensione della linea", "spenta", "in attesa di approvazione", "Maria Rossi", "guasto alla linea", "Approva", "Respingi", "serve un secondo operatore"} {
			if !strings.Contains(text, want) {
				t.Errorf("panel item lacks %q:\n%s", want, text)
			}
		}
		if !evalBool(ctx, t, maria, item+`.querySelector('.cmd-approve').disabled`) {
			t.Error("the issuer's own command can be approved in the page")
		}
		browser.Shot(ctx, t, maria, dir, "commands-panel-issuer.png")
	})

	t.Run("a second operator approves and rejects", func(t *testing.T) {
		if awaiting.ID == "" {
			t.Fatal("no command awaiting approval: the subtest that issues it failed")
		}
		// A second one to reject, from the popup, still open.
		js(ctx, t, maria, pointForm("line_on")+`.querySelector('.cmd-choice[data-value="1"]').click()`)
		submit(ctx, t, maria, "line_on")
		waitPage(ctx, t, maria, "the second command", pointForm("line_on")+`.dataset.command !== '`+awaiting.ID+`' && `+pointForm("line_on")+`.dataset.state === 'awaiting_approval'`)
		toReject = latestCommand(t, fc)

		luca := openOperator(ctx, t, b, base, tokenLuca)
		js(ctx, t, luca, `document.getElementById('commands-toggle').click()`)
		item := func(id string) string {
			return `document.querySelector('#commands-panel .cmd-list.open li[data-command="` + id + `"]')`
		}
		waitPage(ctx, t, luca, "both commands in Luca's panel", item(awaiting.ID)+` && `+item(toReject.ID))
		if evalBool(ctx, t, luca, item(awaiting.ID)+`.querySelector('.cmd-approve').disabled`) {
			t.Fatal("a second operator cannot approve")
		}
		js(ctx, t, luca, `const i = document.querySelector('#commands-panel input[name=operator]'); i.value = 'Luca Bianchi'; i.dispatchEvent(new Event('change'))`)
		js(ctx, t, luca, item(awaiting.ID)+`.querySelector('.cmd-approve').click()`)
		waitPage(ctx, t, luca, "approved", `document.querySelector('#commands-panel .cmd-panel-msg').textContent === 'Comando approvato'`)
		waitPage(ctx, t, luca, "the approved command queued in the panel", item(awaiting.ID)+`?.dataset.state === 'queued'`)
		if ok := evalStr(ctx, t, luca, item(awaiting.ID)+`.innerText`); !strings.Contains(ok, "in coda per il gateway") || !strings.Contains(ok, "approvato da Luca Bianchi") || strings.Contains(ok, "Approva\n") {
			t.Errorf("approved item:\n%s", ok)
		}
		fc.mu.Lock()
		got := *fc.find(awaiting.ID)
		fc.mu.Unlock()
		if got.State != "queued" || got.Approval == nil || got.Approval.Operator.Name != "Luca Bianchi" || got.Approval.Operator.ID == got.Operator.ID {
			t.Errorf("after approval: state %s approval %+v issuer %+v", got.State, got.Approval, got.Operator)
		}
		// Reject the other, giving a reason.
		js(ctx, t, luca, item(toReject.ID)+`.querySelector('.cmd-reject').click()`)
		waitPage(ctx, t, luca, "the reject form", item(toReject.ID)+`.querySelector('.cmd-rejectform input[name=reason]') === document.activeElement`)
		js(ctx, t, luca, item(toReject.ID)+`.querySelector('.cmd-confirm-reject').click()`)
		if m := evalStr(ctx, t, luca, `document.querySelector('#commands-panel .cmd-panel-msg').textContent`); m != "Indicare il motivo" {
			t.Errorf("reject without a reason says %q", m)
		}
		browser.Shot(ctx, t, luca, dir, "commands-panel-reject-form.png")
		js(ctx, t, luca, item(toReject.ID)+`.querySelector('.cmd-rejectform input[name=reason]').value = 'non durante il mercato'`)
		js(ctx, t, luca, item(toReject.ID)+`.querySelector('.cmd-confirm-reject').click()`)
		waitPage(ctx, t, luca, "rejected", `document.querySelector('#commands-panel .cmd-panel-msg').textContent === 'Comando respinto'`)
		waitPage(ctx, t, luca, "the open list without the rejected", `!`+item(toReject.ID))

		// Maria's popup follows the command it sent last: respinto.
		if err := maria.BringToFront(ctx); err != nil {
			t.Fatal(err)
		}
		waitPage(ctx, t, maria, "rejected in Maria's popup", pointForm("line_on")+`.dataset.state === 'rejected'`)
		if s := popupStatus(ctx, t, maria, "line_on"); !strings.Contains(s, "respinto") {
			t.Errorf("Maria's status %q", s)
		}
	})

	t.Run("the panel lists ended commands", func(t *testing.T) {
		if awaiting.ID == "" {
			t.Fatal("no approved command: the subtest that approves it failed")
		}
		fc.report(awaiting.ID, "received", nil, "")
		fc.report(awaiting.ID, "failed", nil, "read back 1, wrote 0")
		ended := func(id string) string {
			return `document.querySelector('#commands-panel .cmd-list.ended li[data-command="` + id + `"]')`
		}
		waitPage(ctx, t, maria, "the ended commands", ended(awaiting.ID)+` && `+ended(toReject.ID))
		text := evalStr(ctx, t, maria, `document.querySelector('#commands-panel .cmd-list.ended').innerText`)
		for _, want := range []string{"applicato (letto 40 %)", "fallito: read back 1, wrote 0", "respinto", "non durante il mercato", "approvato da Luca Bianchi", "Livello della linea → 40 %"} {
			if !strings.Contains(text, want) {
				t.Errorf("ended list lacks %q:\n%s", want, text)
			}
		}
		if open := evalStr(ctx, t, maria, `document.querySelector('#commands-panel .cmd-list.open').innerText`); !strings.Contains(open, "Nessuno") {
			t.Errorf("open list %q, want none left", open)
		}
		browser.Shot(ctx, t, maria, dir, "commands-panel.png")
	})

	t.Run("in English", func(t *testing.T) {
		en := openOperatorQuery(ctx, t, b, base, "?lang=en", tokenLuca)
		if l := evalStr(ctx, t, en, `document.getElementById('commands-toggle').textContent`); l != "Commands" {
			t.Errorf("toolbar button %q", l)
		}
		js(ctx, t, en, `window.ponteMap.pick('`+daliSite+`')`)
		waitPage(ctx, t, en, "the commands in English", pointForm("line_on"))
		sec := evalStr(ctx, t, en, `document.querySelector('.maplibregl-popup section.commands').innerText`)
		for _, want := range []string{"Commands", "Line level", "needs approval", "safe value", "Reason", "Send command"} {
			if !strings.Contains(sec, want) {
				t.Errorf("English section lacks %q:\n%s", want, sec)
			}
		}
	})

	t.Run("a message for a message sign", func(t *testing.T) {
		js(ctx, t, maria, `window.ponteMap.pick('`+signSite+`')`)
		waitPage(ctx, t, maria, "the sign's message form", pointForm("message"))
		sec := evalStr(ctx, t, maria, `document.querySelector('.maplibregl-popup section.commands').innerText`)
		for _, want := range []string{"Messaggio del pannello", "Messaggio", "0/9 caratteri", "Caratteri ammessi: 0-9 A b C c d E F H h i J L n o P r U u spazio , . - '",
			"Parcheggio pieno («PiEno»)", "Strada chiusa («ChiU5o»)", "Invia comando"} {
			if !strings.Contains(sec, want) {
				t.Errorf("the sign's section lacks %q:\n%s", want, sec)
			}
		}
		if strings.Contains(sec, "attuale: non noto") {
			t.Errorf("a text point shows an unknown current value:\n%s", sec)
		}
		typeText := func(v string) {
			js(ctx, t, maria, fmt.Sprintf(`const i = %s.querySelector('input[name=text]'); i.value = %q; i.dispatchEvent(new Event('input'))`, pointForm("message"), v))
		}
		count := func() string {
			return evalStr(ctx, t, maria, pointForm("message")+`.querySelector('.cmd-count').textContent`)
		}
		fill(ctx, t, maria, "Maria Rossi", "parcheggio pieno")
		_, before, _ := fc.latest()
		// Refused by the page as the server would: a character the display
		// cannot show, a message too long.
		typeText("città")
		submit(ctx, t, maria, "message")
		if s := popupStatus(ctx, t, maria, "message"); !strings.HasPrefix(s, "Il carattere «t» non può essere mostrato su questo display; ammessi: 0-9 A b") {
			t.Errorf("status %q, want the page's check of the characters", s)
		}
		typeText("8888 8888 8888")
		if c := count(); c != "14/9 caratteri" {
			t.Errorf("count %q, want 14/9 caratteri", c)
		}
		submit(ctx, t, maria, "message")
		if s := popupStatus(ctx, t, maria, "message"); s != "Messaggio di 14 caratteri: il display ne mostra al massimo 9" {
			t.Errorf("status %q, want the page's check of the length", s)
		}
		if _, posts, _ := fc.latest(); posts != before {
			t.Errorf("%d commands posted, want none for messages the page refuses", posts-before)
		}
		// A preset message, sent and applied with its read-back.
		js(ctx, t, maria, pointForm("message")+`.querySelector('.cmd-preset[data-text="PiEno"]').click()`)
		if c := count(); c != "5/9 caratteri" {
			t.Errorf("count after the preset %q, want 5/9 caratteri", c)
		}
		submit(ctx, t, maria, "message")
		waitPage(ctx, t, maria, "queued", pointForm("message")+`.dataset.state === 'queued'`)
		c := latestCommand(t, fc)
		if c.Point != "message" || c.Text != "PiEno" || c.Entity != signSite {
			t.Fatalf("command sent %+v", c)
		}
		fc.reportText(c.ID, "PiEno")
		waitPage(ctx, t, maria, "applied", pointForm("message")+`.querySelector('.cmd-status').textContent.includes('applicato (letto «PiEno»)')`)
		showSection(ctx, t, maria, "message")
		browser.Shot(ctx, t, maria, dir, "commands-message.png")
	})
}
