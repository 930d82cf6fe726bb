package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Page conditions the screenshots wait for, evaluated in the page. The
// map: its hooks are up, its data loaded (ponteMap.ready) and MapLibre
// has drawn everything (idle), then one more second for the live colours
// of the first stream events. The indicators page marks its body once it
// rendered the indicators (the body may not exist yet when the page has
// only begun to load).
const (
	mapDrawn = `(async () => {
  for (let i = 0; i < 600 && !window.ponteMap; i++) await new Promise((r) => setTimeout(r, 100));
  await window.ponteMap.ready;
  const m = window.ponteMap.map;
  if (!m.loaded()) await new Promise((r) => m.once('idle', r));
  await new Promise((r) => setTimeout(r, 1000));
  return true;
})()`
	indicatorsDrawn = `(async () => {
  for (let i = 0; i < 600 && document.body?.dataset.ready !== 'true'; i++) await new Promise((r) => setTimeout(r, 100));
  return document.body?.dataset.ready === 'true';
})()`
)

// screenshots waits until the twin has fresh sites, then saves the map
// (map.png) and the indicators page (indicators.png) as headless Chromium
// draws them at 1280x800 (software WebGL: SwiftShader).
func (s *stack) screenshots(ctx context.Context, mapURL, indURL string) error {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		return fmt.Errorf("screenshots need chromium (apt-get install chromium): %w", err)
	}
	if err := os.MkdirAll(s.cfg.Screenshots, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(s.cfg.Err, "== waiting for fresh sites on the twin\n")
	if err := s.freshEnough(ctx); err != nil {
		return err
	}
	for _, shot := range []struct{ name, url, drawn string }{{"map.png", mapURL, mapDrawn}, {"indicators.png", indURL, indicatorsDrawn}} {
		out := filepath.Join(s.cfg.Screenshots, shot.name)
		if err := s.shoot(ctx, chromium, shot.url, shot.drawn, out); err != nil {
			return fmt.Errorf("screenshot %s: %w", shot.name, err)
		}
		fmt.Fprintf(s.cfg.Out, "screenshot: %s\n", out)
	}
	return nil
}

// shoot opens url in a fresh headless Chromium, waits until drawn holds
// and saves the viewport to out.
func (s *stack) shoot(ctx context.Context, chromium, url, drawn, out string) error {
	dir, err := os.MkdirTemp(s.work, "chromium-")
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.work, "logs", "chromium-"+filepath.Base(out)+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	c, err := startCDP(chromium, dir, log)
	if err != nil {
		return err
	}
	defer c.close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := c.open(ctx, url); err != nil {
		return fmt.Errorf("%w (chromium's log: %s)", err, logPath)
	}
	ok, err := c.eval(ctx, drawn)
	if err != nil {
		return fmt.Errorf("%w (chromium's log: %s)", err, logPath)
	}
	if string(ok) != "true" {
		return fmt.Errorf("the page at %s did not finish drawing", url)
	}
	return c.screenshot(ctx, out)
}
