package browser

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

// Browser is headless Chromium driven over the Chrome DevTools Protocol
// on the pipes --remote-debugging-pipe opens (fd 3 in, fd 4 out; each
// message is JSON ended by a NUL byte). A small client instead of chromedp
// keeps the module's dependencies as they are; it needs only a few methods.
type Browser struct {
	t       testing.TB
	cmd     *exec.Cmd
	in      *os.File // our end of Chromium's fd 3
	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpMessage
	events  chan cdpMessage
	done    chan struct{}
	// hooks answer events that must not wait for a reader of events
	// (Fetch.requestPaused holds the request until answered), by session
	// and method; each runs in its own goroutine.
	hooks map[hookKey]func(cdpMessage)
}

// hookKey names the events of one method in one session.
type hookKey struct{ session, method string }

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// Start starts Chromium with software WebGL (SwiftShader), which
// MapLibre needs. It is an integration test's start: under -short it skips
// the test, and without it fails the test, with the install command, when
// Chromium is missing.
func Start(t testing.TB) *Browser {
	t.Helper()
	chromiumPath := testenv.Need(t, "chromium", "apt-get install -y chromium")
	toChrome, ours, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromChrome, theirs, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chromiumPath,
		"--headless", "--no-sandbox", "--disable-gpu",
		"--use-angle=swiftshader", "--enable-unsafe-swiftshader",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--no-first-run", "--no-default-browser-check",
		"--mute-audio", "--hide-scrollbars", "--window-size=1280,800",
		"--user-data-dir="+t.TempDir(),
		"--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{toChrome, theirs}
	logf, err := os.Create(t.TempDir() + "/chromium.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	toChrome.Close()
	theirs.Close()
	b := &Browser{t: t, cmd: cmd, in: ours, waiting: map[int]chan cdpMessage{}, hooks: map[hookKey]func(cdpMessage){}, events: make(chan cdpMessage, 1024), done: make(chan struct{})}
	go b.read(fromChrome)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = b.Call(ctx, "", "Browser.close", nil)
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		ours.Close()
		fromChrome.Close()
		logf.Close()
	})
	return b
}

func (b *Browser) read(f *os.File) {
	defer close(b.done)
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		raw, err := r.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMessage
		if err := json.Unmarshal(raw[:len(raw)-1], &m); err != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.waiting[m.ID]
			delete(b.waiting, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		b.mu.Lock()
		hook := b.hooks[hookKey{m.SessionID, m.Method}]
		b.mu.Unlock()
		if hook != nil {
			go hook(m)
			continue
		}
		select {
		case b.events <- m:
		default: // nobody reads events now; drop
		}
	}
}

// Call sends one CDP command (in a session, if sessionID is set) and waits
// for its result.
func (b *Browser) Call(ctx context.Context, sessionID, method string, params any) (json.RawMessage, error) {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if sessionID != "" {
		msg["sessionId"] = sessionID
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if _, err := b.in.Write(append(data, 0)); err != nil {
		return nil, fmt.Errorf("cdp %s: write: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return nil, fmt.Errorf("cdp %s: %d %s", method, m.Error.Code, m.Error.Message)
		}
		return m.Result, nil
	case <-b.done:
		return nil, fmt.Errorf("cdp %s: browser exited", method)
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.waiting, id)
		b.mu.Unlock()
		return nil, fmt.Errorf("cdp %s: %w", method, ctx.Err())
	}
}

// Page is one tab.
type Page struct {
	b       *Browser
	session string
}

// NewPage opens a tab of 1280x800 and enables the events the tests wait on.
func (b *Browser) NewPage(ctx context.Context) *Page {
	b.t.Helper()
	res, err := b.Call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"})
	if err != nil {
		b.t.Fatal(err)
	}
	var target struct{ TargetID string }
	_ = json.Unmarshal(res, &target)
	res, err = b.Call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true})
	if err != nil {
		b.t.Fatal(err)
	}
	var att struct{ SessionID string }
	_ = json.Unmarshal(res, &att)
	p := &Page{b: b, session: att.SessionID}
	for _, m := range []string{"Page.enable", "Runtime.enable"} {
		if _, err := b.Call(ctx, p.session, m, nil); err != nil {
			b.t.Fatal(err)
		}
	}
	if _, err := b.Call(ctx, p.session, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false}); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// Navigate loads url and waits for its load event, logging the page's
// console errors and exceptions meanwhile.
func (p *Page) Navigate(ctx context.Context, url string) error {
	if _, err := p.b.Call(ctx, p.session, "Page.navigate", map[string]any{"url": url}); err != nil {
		return err
	}
	for {
		select {
		case m := <-p.b.events:
			p.logEvent(m)
			if m.SessionID == p.session && m.Method == "Page.loadEventFired" {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("navigate %s: no load event: %w", url, ctx.Err())
		}
	}
}

// DrainLog logs the console messages received so far.
func (p *Page) DrainLog() {
	for {
		select {
		case m := <-p.b.events:
			p.logEvent(m)
		default:
			return
		}
	}
}

func (p *Page) logEvent(m cdpMessage) {
	switch m.Method {
	case "Runtime.consoleAPICalled":
		var e struct {
			Type string
			Args []struct {
				Value       any
				Description string
			}
		}
		_ = json.Unmarshal(m.Params, &e)
		if e.Type == "error" || e.Type == "warning" {
			p.b.t.Logf("page console.%s: %+v", e.Type, e.Args)
		}
	case "Runtime.exceptionThrown":
		p.b.t.Logf("page exception: %s", m.Params)
	}
}

// Eval evaluates a JavaScript expression, awaiting it if it is a promise,
// and decodes its JSON value into out (if not nil).
func (p *Page) Eval(ctx context.Context, expr string, out any) error {
	res, err := p.b.Call(ctx, p.session, "Runtime.evaluate", map[string]any{
		"expression": expr, "awaitPromise": true, "returnByValue": true,
	})
	if err != nil {
		return err
	}
	var r struct {
		Result struct {
			Value json.RawMessage
		}
		ExceptionDetails *struct {
			Text      string
			Exception struct{ Description string }
		}
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("evaluate %q: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if out == nil || len(r.Result.Value) == 0 {
		return nil
	}
	return json.Unmarshal(r.Result.Value, out)
}

// Screenshot saves a PNG of the page to path: the whole page, not only
// the viewport, when full is set.
func (p *Page) Screenshot(ctx context.Context, path string, full bool) error {
	res, err := p.b.Call(ctx, p.session, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": full})
	if err != nil {
		return err
	}
	var r struct{ Data string }
	if err := json.Unmarshal(res, &r); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return err
	}
	if len(png) == 0 {
		return errors.New("empty screenshot")
	}
	return os.WriteFile(path, png, 0o644)
}

// Close closes the tab.
func (p *Page) Close(ctx context.Context) error {
	_, err := p.b.Call(ctx, p.session, "Page.close", nil)
	return err
}

// BringToFront makes the tab the active one: a background tab gets no
// animation frames and throttled timers.
func (p *Page) BringToFront(ctx context.Context) error {
	_, err := p.b.Call(ctx, p.session, "Page.bringToFront", nil)
	return err
}

// WaitJS is a page expression that polls cond (a JS expression) every
// 10 ms until it is truthy or ms milliseconds pass, and resolves to the
// milliseconds it took, or -1.
func WaitJS(cond string, ms int) string {
	return fmt.Sprintf(`(async () => { const t0 = performance.now();
  for (;;) { let ok = false; try { ok = !!(%s); } catch (e) {}
    if (ok) return performance.now() - t0;
    if (performance.now() - t0 > %d) return -1;
    await new Promise(r => setTimeout(r, 10)); } })()`, cond, ms)
}

// Shot saves a screenshot of p as dir/name (the whole page when name
// starts with "indicators") and logs where; a failure is an error of t.
func Shot(ctx context.Context, t testing.TB, p *Page, dir, name string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := p.Screenshot(ctx, path, strings.HasPrefix(name, "indicators")); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// Artifacts is where screenshots go: $PONTE_ARTIFACTS, else a temp dir.
func Artifacts(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("PONTE_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Call sends a DevTools method to the page's session (for what the
// helpers above do not cover, e.g. Network.setExtraHTTPHeaders).
func (p *Page) Call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	return p.b.Call(ctx, p.session, method, params)
}
