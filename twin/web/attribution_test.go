package web_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv/browser"
)

// TestMapAttributionIsText: a tilesAttribution from the URL shows as its
// literal text in the map's attribution, never as markup: a crafted link
// cannot put a (phishing) anchor into the operators' trusted page.
func TestMapAttributionIsText(t *testing.T) {
	needBuilt(t)
	api := newFakeAPI(t, 3)
	srv := serve(t, api)
	b := browser.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := b.NewPage(ctx)
	defer p.DrainLog()

	const evil = `<a href="https://evil.example/login" id="phish">Log in again</a><img src=x onerror="window.pwned=1">`
	q := url.Values{"tiles": {srv.URL + "/no-tiles/{z}/{x}/{y}.png"}, "tilesAttribution": {evil}}
	if err := p.Navigate(ctx, srv.URL+"/map/?"+q.Encode()+"#token="+testToken); err != nil {
		t.Fatal(err)
	}
	var waited float64
	cond := `document.querySelector('.maplibregl-ctrl-attrib') && document.querySelector('.maplibregl-ctrl-attrib').textContent.includes('Log in again')`
	if err := p.Eval(ctx, browser.WaitJS(cond, 20000), &waited); err != nil || waited < 0 {
		var text string
		_ = p.Eval(ctx, "String(document.querySelector('.maplibregl-ctrl-attrib') && document.querySelector('.maplibregl-ctrl-attrib').textContent)", &text)
		t.Fatalf("the attribution never showed the URL's text (waited %v, %v); control shows %q", waited, err, text)
	}
	var text string
	if err := p.Eval(ctx, "document.querySelector('.maplibregl-ctrl-attrib').textContent", &text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, evil) {
		t.Errorf("attribution shows %q, want the literal text %q", text, evil)
	}
	for _, sel := range []string{"#phish", ".maplibregl-ctrl-attrib a[href*='evil.example']", ".maplibregl-ctrl-attrib img"} {
		var n int
		if err := p.Eval(ctx, fmt.Sprintf("document.querySelectorAll(%q).length", sel), &n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d elements match %s: the attribution was rendered as HTML", n, sel)
		}
	}
	var pwned bool
	if err := p.Eval(ctx, "!!window.pwned", &pwned); err != nil || pwned {
		t.Errorf("the attribution's onerror ran (%v)", err)
	}
	browser.Shot(ctx, t, p, browser.Artifacts(t), "map-attribution-as-text.png")
}
