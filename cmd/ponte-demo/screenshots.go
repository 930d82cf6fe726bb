package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// screenshots waits until the twin has fresh sites, then saves the map
// (map.png) and the indicators page (indicators.png) as headless Chromium
// renders them at 1280x800. Chromium's own --screenshot is enough here:
// the map page draws with software WebGL (SwiftShader), and
// --virtual-time-budget lets its requests, tiles and first paint finish
// before the picture is taken.
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
	for _, shot := range []struct{ name, url string }{{"map.png", mapURL}, {"indicators.png", indURL}} {
		out := filepath.Join(s.cfg.Screenshots, shot.name)
		if err := s.shoot(ctx, chromium, shot.url, out); err != nil {
			return err
		}
		fmt.Fprintf(s.cfg.Out, "screenshot: %s\n", out)
	}
	return nil
}

// shoot runs one headless Chromium on url and checks the PNG it wrote.
func (s *stack) shoot(ctx context.Context, chromium, url, out string) error {
	profile, err := os.MkdirTemp(s.work, "chromium-")
	if err != nil {
		return err
	}
	_ = os.Remove(out)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
		"--use-angle=swiftshader", "--enable-unsafe-swiftshader",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--no-first-run", "--no-default-browser-check",
		"--mute-audio", "--hide-scrollbars", "--window-size=1280,800", "--user-data-dir="+profile,
		"--virtual-time-budget=15000", "--timeout=30000", "--screenshot="+out, url)
	logPath := filepath.Join(s.work, "logs", "chromium-"+filepath.Base(out)+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("chromium screenshot of %s: %v (log: %s)", url, err, logPath)
	}
	st, err := os.Stat(out)
	if err != nil || st.Size() == 0 {
		return fmt.Errorf("chromium wrote no screenshot %s (log: %s)", out, logPath)
	}
	return nil
}
