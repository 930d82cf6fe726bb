package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// The screenshots drive headless Chromium over the DevTools protocol on
// --remote-debugging-pipe (fd 3 in, fd 4 out; messages are JSON ended by a
// NUL byte), so that a page is captured once it says it has drawn, not
// after a fixed delay: Chromium's own --screenshot captures at the load
// event, before the map has its data, and its --virtual-time-budget never
// expires while the map's event stream is open. The test suite's client
// (internal/testenv/browser) is tied to testing.TB; this one is the few
// sequential calls the demo needs.

// cdp is one headless Chromium and the page it shows.
type cdp struct {
	cmd     *exec.Cmd
	in      *os.File
	out     *bufio.Reader
	outFile *os.File
	next    int
	session string
}

// startCDP starts chromium with a fresh profile in dir, logging to log.
func startCDP(chromium, dir string, log *os.File) (*cdp, error) {
	toChrome, ours, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	fromChrome, theirs, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
		"--use-angle=swiftshader", "--enable-unsafe-swiftshader",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--no-first-run", "--no-default-browser-check",
		"--mute-audio", "--hide-scrollbars", "--window-size=1280,800", "--user-data-dir="+dir,
		"--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{toChrome, theirs}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", chromium, err)
	}
	toChrome.Close()
	theirs.Close()
	return &cdp{cmd: cmd, in: ours, out: bufio.NewReaderSize(fromChrome, 1<<20), outFile: fromChrome}, nil
}

// call sends one command and reads until its answer (events are skipped:
// the demo waits on conditions it evaluates in the page instead).
func (c *cdp) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	c.next++
	msg := map[string]any{"id": c.next, "method": method, "params": params}
	if c.session != "" && !strings.HasPrefix(method, "Target.") && !strings.HasPrefix(method, "Browser.") {
		msg["sessionId"] = c.session
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if _, err := c.in.Write(append(data, 0)); err != nil {
		return nil, fmt.Errorf("cdp %s: %w", method, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.outFile.SetReadDeadline(dl)
	}
	for {
		raw, err := c.out.ReadBytes(0)
		if err != nil {
			return nil, fmt.Errorf("cdp %s: %w", method, err)
		}
		var m struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil || m.ID != c.next {
			continue
		}
		if m.Error != nil {
			return nil, fmt.Errorf("cdp %s: %s", method, m.Error.Message)
		}
		return m.Result, nil
	}
}

// open shows url in a new 1280x800 page and attaches to it.
func (c *cdp) open(ctx context.Context, url string) error {
	res, err := c.call(ctx, "Target.createTarget", map[string]any{"url": "about:blank"})
	if err != nil {
		return err
	}
	var target struct{ TargetID string }
	_ = json.Unmarshal(res, &target)
	if res, err = c.call(ctx, "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}); err != nil {
		return err
	}
	var att struct{ SessionID string }
	_ = json.Unmarshal(res, &att)
	c.session = att.SessionID
	if _, err := c.call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false}); err != nil {
		return err
	}
	_, err = c.call(ctx, "Page.navigate", map[string]any{"url": url})
	return err
}

// eval evaluates expr in the page, awaiting a promise, and returns its
// value as JSON.
func (c *cdp) eval(ctx context.Context, expr string) (json.RawMessage, error) {
	res, err := c.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true})
	if err != nil {
		return nil, err
	}
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return nil, err
	}
	if e := r.ExceptionDetails; e != nil {
		return nil, fmt.Errorf("in the page: %s %s", e.Text, e.Exception.Description)
	}
	return r.Result.Value, nil
}

// screenshot saves the viewport as a PNG at path.
func (c *cdp) screenshot(ctx context.Context, path string) error {
	res, err := c.call(ctx, "Page.captureScreenshot", map[string]any{"format": "png"})
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
		return errors.New("chromium sent an empty screenshot")
	}
	return os.WriteFile(path, png, 0o644)
}

// close ends Chromium (Browser.close, then a kill after 10 s).
func (c *cdp) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = c.call(ctx, "Browser.close", nil)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
	c.in.Close()
	c.outFile.Close()
}
