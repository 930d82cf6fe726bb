// Command ponte-edge is the edge agent: it polls a site's devices, buffers
// every reading durably and forwards them to ingest. See package agent.
//
//	ponte-edge --config /etc/ponte/site.yaml
//	ponte-edge --config site.yaml --check     # validate and exit
//
// SIGTERM or SIGINT shut it down cleanly; SIGHUP reloads the device list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/ponte-city/ponte/edge/agent"
	"github.com/ponte-city/ponte/internal/sdnotify"
	"github.com/ponte-city/ponte/internal/site"
	"github.com/ponte-city/ponte/internal/version"
)

func main() {
	fs := flag.NewFlagSet("ponte-edge", flag.ContinueOnError)
	config := fs.String("config", "/etc/ponte/site.yaml", "site config `file`")
	profiles := fs.String("profiles", "", "firmware profile `dir` (overrides the config's profiles)")
	check := fs.Bool("check", false, "validate the site config and exit (without the gateway's password and TLS files)")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn, error")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println(version.Line("ponte-edge"))
		return
	}
	load := site.Options{ProfilesDir: *profiles}
	if *check {
		load.Offline = true
		s, err := agent.Load(*config, load)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, w := range s.SecretWarnings() {
			fmt.Fprintln(os.Stderr, "warning:", w)
		}
		fmt.Printf("%s: gateway %s, %d devices: ok\n", *config, s.Gateway.ID, len(s.Devices))
		return
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintln(os.Stderr, "ponte-edge: --log-level:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	a, err := agent.New(agent.Config{Path: *config, Load: load, Version: version.String(), Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if os.Getenv("GOMEMLIMIT") == "" { // see agent.MemoryLimit
		n := len(a.Status().Devices)
		debug.SetMemoryLimit(agent.MemoryLimit(n))
		log.Debug("memory limit", "bytes", agent.MemoryLimit(n), "devices", n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				rctx, cancel := context.WithTimeout(ctx, time.Minute)
				_ = a.Reload(rctx) // logged by the agent
				cancel()
			}
		}
	}()
	// systemd (Type=notify): ready, and the watchdog fed, while the agent is.
	go sdnotify.Log(ctx, log, sdnotify.Config{Healthy: func(context.Context) bool { return a.Status().Ready }})
	if err := a.Run(ctx); err != nil {
		log.Error("ponte-edge stopped", "err", err)
		os.Exit(1)
	}
	log.Info("ponte-edge stopped")
}
