package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sync"
)

// Blocked records the requests a page was kept from sending by
// BlockOutside: what an operator's browser in a control room without
// internet would fail to fetch.
type Blocked struct {
	mu   sync.Mutex
	urls []string
}

// URLs returns the blocked requests' URLs, oldest first.
func (b *Blocked) URLs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.urls)
}

// BlockOutside cuts the page off from every host but the loopback one
// (127.0.0.1, ::1, localhost): each request to another host fails as if
// the network were down (Fetch.failRequest, InternetDisconnected) and is
// recorded in the returned Blocked; loopback requests go on unchanged.
// It uses the DevTools Fetch domain, which pauses every request of the
// page, its frames and its dedicated workers (MapLibre fetches tiles from
// workers) until answered. Call it before Navigate.
func (p *Page) BlockOutside(ctx context.Context) (*Blocked, error) {
	blocked := &Blocked{}
	p.b.mu.Lock()
	p.b.hooks[hookKey{p.session, "Fetch.requestPaused"}] = func(m cdpMessage) {
		var ev struct {
			RequestID string `json:"requestId"`
			Request   struct {
				URL string `json:"url"`
			} `json:"request"`
		}
		if err := json.Unmarshal(m.Params, &ev); err != nil {
			return
		}
		if loopback(ev.Request.URL) {
			_, _ = p.b.Call(ctx, p.session, "Fetch.continueRequest", map[string]any{"requestId": ev.RequestID})
			return
		}
		blocked.mu.Lock()
		blocked.urls = append(blocked.urls, ev.Request.URL)
		blocked.mu.Unlock()
		_, _ = p.b.Call(ctx, p.session, "Fetch.failRequest", map[string]any{"requestId": ev.RequestID, "errorReason": "InternetDisconnected"})
	}
	p.b.mu.Unlock()
	if _, err := p.b.Call(ctx, p.session, "Fetch.enable", map[string]any{
		"patterns": []map[string]any{{"urlPattern": "*", "requestStage": "Request"}},
	}); err != nil {
		return nil, fmt.Errorf("block outside hosts: %w", err)
	}
	return blocked, nil
}

// loopback says whether a request URL goes to this machine (data: and
// blob: URLs never leave it either).
func loopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "data", "blob":
		return true
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Press sends one key press (keyDown, then keyUp) to the focused element
// through Input.dispatchKeyEvent, as a keyboard does: key is the DOM key
// ("n", "Enter", "Escape", "Tab"), code its DOM code ("KeyN", "Enter").
func (p *Page) Press(ctx context.Context, key, code string) error {
	down := map[string]any{"type": "keyDown", "key": key, "code": code}
	if vk, ok := virtualKeys[key]; ok {
		down["windowsVirtualKeyCode"] = vk
	}
	if len(key) == 1 {
		down["text"] = key
	}
	if _, err := p.b.Call(ctx, p.session, "Input.dispatchKeyEvent", down); err != nil {
		return fmt.Errorf("press %s: %w", key, err)
	}
	up := map[string]any{"type": "keyUp", "key": key, "code": code}
	if vk, ok := virtualKeys[key]; ok {
		up["windowsVirtualKeyCode"] = vk
	}
	if _, err := p.b.Call(ctx, p.session, "Input.dispatchKeyEvent", up); err != nil {
		return fmt.Errorf("press %s: %w", key, err)
	}
	return nil
}

// virtualKeys are the Windows key codes Chromium needs to act on keys
// that type no text (Tab moves the focus only with its code).
var virtualKeys = map[string]int{"Tab": 9, "Enter": 13, "Escape": 27, "ArrowLeft": 37, "ArrowUp": 38, "ArrowRight": 39, "ArrowDown": 40}
