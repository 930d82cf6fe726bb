package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is one run of the demo.
type Config struct {
	// Root is the checkout; Bin holds ponte-edge, ponte-ingest, ponte-sim.
	Root, Bin string
	// Rounds > 0 makes a bounded run of that many rounds; 0 runs until
	// the context ends (Ctrl-C).
	Rounds int
	// Round is the time between status rounds (default 5s).
	Round time.Duration
	// Screenshots, if set, is the folder the map and indicators page
	// screenshots go to; the demo then exits once they are taken.
	Screenshots string
	// Out receives the URLs, the status and the summary; Err the startup
	// steps and failures. TTY says Out is a terminal.
	Out, Err io.Writer
	TTY      bool
}

// Validate reports a config the demo cannot run with.
func (c Config) Validate() error {
	switch {
	case c.Root == "" || c.Bin == "":
		return errors.New("config: Root and Bin are required")
	case c.Rounds < 0:
		return fmt.Errorf("config: DEMO_ROUNDS %d: expected 0 (until Ctrl-C) or more", c.Rounds)
	case c.Out == nil || c.Err == nil:
		return errors.New("config: Out and Err are required")
	}
	return nil
}

// Summary is the bounded run's last line, for scripts.
type Summary struct {
	Gateways        int      `json:"gateways"`
	Devices         int      `json:"devices"`
	Cities          []string `json:"cities"`
	DevicesInInflux int      `json:"devices_in_influx"`
	DeadLetters     int      `json:"dead_letters"`
	OK              bool     `json:"ok"`
}

// summarize judges the last snapshot: every device has good readings in
// InfluxDB and nothing was dead-lettered. problems name what failed.
func summarize(plan *Plan, snap snapshot) (Summary, []string) {
	sum := Summary{Gateways: len(plan.Gateways), Devices: plan.Devices(), Cities: plan.Cities()}
	var problems []string
	for _, g := range snap.Gateways {
		sum.DeadLetters += g.DeadReadings
		if g.DeadReadings > 0 {
			problems = append(problems, fmt.Sprintf("gateway %s: %d readings dead-lettered (%d letters), devices %s",
				g.ID, g.DeadReadings, g.DeadLetters, strings.Join(g.deadDevices, ", ")))
		}
	}
	for _, k := range []string{snap.InfluxErr, snap.DeadErr} {
		if k != "" {
			problems = append(problems, "status unavailable: "+k)
		}
	}
	var silent []string
	for _, g := range plan.Gateways {
		for _, d := range g.Site.Devices {
			if snap.Influx[g.Site.Gateway.ID+"/"+d.Name] {
				sum.DevicesInInflux++
			} else {
				silent = append(silent, g.Site.Gateway.ID+"/"+d.Name)
			}
		}
	}
	if len(silent) > 0 {
		problems = append(problems, fmt.Sprintf("no readings in InfluxDB from %d devices: %s", len(silent), strings.Join(silent, ", ")))
	}
	sum.OK = len(problems) == 0
	return sum, problems
}

// Line is the summary as one JSON line.
func (s Summary) Line() string {
	if s.Cities == nil {
		s.Cities = []string{}
	}
	b, _ := json.Marshal(s) // plain fields: cannot fail
	return string(b)
}

// errFailed marks a run that ended with its failure already reported.
var errFailed = errors.New("demo failed")

// Run runs the demo until ctx ends (exit 0), the bounded rounds are done,
// or the screenshots are taken. On any failure it keeps the work folder
// with every log and says where it is.
func Run(ctx context.Context, cfg Config) (err error) {
	if err := cfg.Validate(); err != nil {
		if cfg.Err != nil {
			fmt.Fprintf(cfg.Err, "demo: %v\n", err)
		}
		return err
	}
	if cfg.Round == 0 {
		cfg.Round = 5 * time.Second
	}
	work, err := os.MkdirTemp("", "ponte-demo-")
	if err != nil {
		return err
	}
	s := &stack{cfg: cfg, work: work, procs: &procs{logs: filepath.Join(work, "logs")}, ports: &ports{}}
	defer func() {
		pids := s.procs.stopAll(10 * time.Second)
		if left := leftover(pids); len(left) > 0 {
			fmt.Fprintf(cfg.Err, "demo: processes still running after stop: %v\n", left)
			if err == nil {
				err = errFailed
			}
		}
		if err != nil {
			if !errors.Is(err, errFailed) {
				fmt.Fprintf(cfg.Err, "demo: %v\n", err)
			}
			fmt.Fprintf(cfg.Err, "demo: logs and configs kept in %s (logs/ holds one log per process)\n", work)
			return
		}
		os.RemoveAll(work)
	}()
	if err := s.start(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // Ctrl-C during startup
		}
		return err
	}
	mapURL := fmt.Sprintf("%s/map/#token=%s", s.ingest, s.token)
	indURL := s.ingest + "/indicators/"
	fmt.Fprintf(cfg.Out, "\nPonte demo: %d gateways, %d devices in %s.\n\n", len(s.plan.Gateways), s.plan.Devices(), strings.Join(s.plan.Cities(), " and "))
	fmt.Fprintf(cfg.Out, "  operators' map:   %s\n", mapURL)
	fmt.Fprintf(cfg.Out, "  indicators page:  %s\n", indURL)
	for _, t := range s.tenants {
		fmt.Fprintf(cfg.Out, "  %s: %s/t/%s/indicators/  (its operators: %s/map/#token=%s)\n", t.Name, s.ingest, t.ID, s.ingest, t.Token)
	}
	fmt.Fprintf(cfg.Out, "  logs and configs: %s\n\n", work)
	if cfg.Rounds == 0 && cfg.Screenshots == "" {
		fmt.Fprintf(cfg.Out, "Ctrl-C to stop.\n\n")
	}
	if cfg.Screenshots != "" {
		return s.screenshots(ctx, mapURL, indURL)
	}
	return s.rounds(ctx)
}

// rounds shows the status every round; on a terminal the block is
// rewritten in place so the URLs above it stay on screen.
func (s *stack) rounds(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Round)
	defer t.Stop()
	lines := 0
	var snap snapshot
	for round := 1; ; round++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		snap = s.poll()
		if s.cfg.TTY && lines > 0 {
			fmt.Fprintf(s.cfg.Out, "\x1b[%dA", lines)
		}
		lines = snap.render(s.cfg.Out, round, time.Now().Format("15:04:05"), s.cfg.TTY)
		if !s.cfg.TTY {
			fmt.Fprintln(s.cfg.Out)
		}
		if dead := s.procs.dead(); len(dead) > 0 {
			return fmt.Errorf("a component stopped: %s", strings.Join(dead, "; "))
		}
		if s.cfg.Rounds > 0 && round >= s.cfg.Rounds {
			break
		}
	}
	sum, problems := summarize(s.plan, snap)
	for _, p := range problems {
		fmt.Fprintf(s.cfg.Err, "demo: %s\n", p)
	}
	if sum.OK {
		fmt.Fprintf(s.cfg.Out, "demo: every device's readings went through its gateway's buffer and ingest into InfluxDB; nothing was dead-lettered\n")
	}
	fmt.Fprintln(s.cfg.Out, sum.Line())
	if !sum.OK {
		return errFailed
	}
	return nil
}

// freshEnough waits until the twin shows most sites fresh, so that the
// screenshots show a living city: the share is not all, because a
// device on a long interval may take a while to report.
func (s *stack) freshEnough(ctx context.Context) error {
	want := s.plan.Devices() * 9 / 10
	return s.procs.waitFor(ctx, startWait, fmt.Sprintf("%d fresh sites on the twin", want), func() bool {
		n, err := s.freshSites()
		return err == nil && n >= want
	})
}
