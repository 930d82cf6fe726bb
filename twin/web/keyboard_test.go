package web_test

import (
	"strings"
	"testing"

	"github.com/ponte-city/ponte/internal/testenv/browser"
)

// TestMapKeyboard: an operator without a mouse reaches the map with Tab
// (the canvas shows a focus ring), steps through the sites in view with
// "n" and "p" in the order of their names, each highlighted and
// announced, opens the popup with Enter and closes it with Escape, the
// focus going back to the map. Keys are real key events (CDP
// Input.dispatchKeyEvent), not synthetic DOM events.
func TestMapKeyboard(t *testing.T) {
	needBuilt(t)
	fa := newFakeAPI(t, 4)
	ctx, p, dir := openMap(t, fa)
	// Street zoom over the four sites, so none is clustered.
	if err := p.Eval(ctx, `(async () => { const m = window.ponteMap.map; m.jumpTo({center: [11.2416, 43.769], zoom: 14.5});
  await new Promise(r => m.once('idle', r)); return true; })()`, nil); err != nil {
		t.Fatal(err)
	}
	// Tab from the page's start until the canvas has the focus.
	for i := 0; i < 30 && !evalBool(ctx, t, p, `document.activeElement === window.ponteMap.map.getCanvas()`); i++ {
		if err := p.Press(ctx, "Tab", "Tab"); err != nil {
			t.Fatal(err)
		}
	}
	if !evalBool(ctx, t, p, `document.activeElement === window.ponteMap.map.getCanvas()`) {
		t.Fatalf("Tab never reached the map (focus on %s)", evalStr(ctx, t, p, `document.activeElement.outerHTML.slice(0, 80)`))
	}
	if ring := evalStr(ctx, t, p, `getComputedStyle(window.ponteMap.map.getCanvas()).outlineStyle`); ring == "none" {
		t.Error("the focused map shows no focus ring")
	}
	press := func(key, code string) {
		t.Helper()
		if err := p.Press(ctx, key, code); err != nil {
			t.Fatal(err)
		}
	}
	announced := func() string { return evalStr(ctx, t, p, `document.getElementById('map-announce').textContent`) }

	// The sites in view by name: Counter 0 .. Counter 3 (Counter 3 never
	// updated, but drawn).
	press("n", "KeyN")
	if a := announced(); !strings.HasPrefix(a, "Counter 0, 1 di 4") {
		t.Errorf("first n announced %q, want Counter 0, 1 di 4", a)
	}
	press("n", "KeyN")
	if a := announced(); !strings.HasPrefix(a, "Counter 1, 2 di 4") {
		t.Errorf("second n announced %q", a)
	}
	press("p", "KeyP")
	press("p", "KeyP") // wraps round to the last
	if a := announced(); !strings.HasPrefix(a, "Counter 3, 4 di 4") {
		t.Errorf("p past the first announced %q, want the last", a)
	}
	press("n", "KeyN")
	press("n", "KeyN")
	if a := announced(); !strings.HasPrefix(a, "Counter 1, 2 di 4") {
		t.Errorf("announced %q, want Counter 1", a)
	}
	// The highlight ring is drawn on the picked site.
	waitPage(ctx, t, p, "the highlight on Counter 1", `(() => { const m = window.ponteMap.map;
  const c = window.ponteMap.store.features.get('`+fa.sites[1].ID+`').geometry.coordinates;
  return m.queryRenderedFeatures(m.project(c), {layers: ['kbd-ring']}).length === 1; })()`)
	browser.Shot(ctx, t, p, dir, "map-keyboard-highlight.png")

	press("Enter", "Enter")
	waitPage(ctx, t, p, "the popup", `document.querySelector('.maplibregl-popup h2')?.textContent === 'Counter 1'`)
	browser.Shot(ctx, t, p, dir, "map-keyboard-popup.png")
	press("Escape", "Escape")
	waitPage(ctx, t, p, "the popup to close", `!document.querySelector('.maplibregl-popup')`)
	if !evalBool(ctx, t, p, `document.activeElement === window.ponteMap.map.getCanvas()`) {
		t.Error("after Escape the focus is not back on the map")
	}
}
