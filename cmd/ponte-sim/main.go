// Command ponte-sim serves a device profile as a simulated device: Modbus
// TCP and RTU, serial line formats, MQTT publishing. See package sim.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // --zone works on a machine without zoneinfo

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/internal/version"
)

func main() {
	if version.Asked(os.Args[1:]) {
		fmt.Println(version.Line("ponte-sim"))
		return
	}
	opts, err := sim.ParseArgs(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ponte-sim:", err)
		os.Exit(2)
	}
	level := slog.LevelInfo
	if opts.Debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := sim.Run(ctx, log, opts); err != nil {
		log.Error("ponte-sim stopped", "err", err)
		os.Exit(1)
	}
	log.Info("ponte-sim stopped")
}
