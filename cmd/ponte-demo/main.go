// Command ponte-demo runs a city on one machine: gateways in Firenze and
// Bari with simulated devices of every firmware profile, ingest with its
// embedded broker, InfluxDB and the digital twin, and prints the map's
// URL and a live status. deploy/demo/run (make demo) starts it.
//
//	ponte-demo                      until Ctrl-C
//	DEMO_ROUNDS=3 ponte-demo        a bounded run that fails unless every device reached InfluxDB and nothing was dead-lettered; last line JSON
//	ponte-demo --screenshots DIR    save the map and indicators pages as PNGs, then exit
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/ponte-city/ponte/internal/version"
)

func main() {
	exe, _ := os.Executable()
	fs := flag.NewFlagSet("ponte-demo", flag.ContinueOnError)
	root := fs.String("root", ".", "the Ponte checkout (deploy/sites, firmware-profiles, geo)")
	bin := fs.String("bin", filepath.Dir(exe), "`folder` holding ponte-edge, ponte-ingest and ponte-sim")
	rounds := fs.Int("rounds", envInt("DEMO_ROUNDS"), "bounded run of this many rounds of 5s (default $DEMO_ROUNDS; 0: until Ctrl-C)")
	shots := fs.String("screenshots", os.Getenv("DEMO_SCREENSHOTS"), "save the map and indicators pages as PNGs in `dir`, then exit (default $DEMO_SCREENSHOTS)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println(version.Line("ponte-demo"))
		return
	}
	if *rounds < 0 {
		fmt.Fprintln(os.Stderr, "ponte-demo: DEMO_ROUNDS must be a whole number >= 0")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, _ := os.Stdout.Stat()
	absRoot, _ := filepath.Abs(*root)
	absBin, _ := filepath.Abs(*bin)
	err := Run(ctx, Config{Root: absRoot, Bin: absBin, Rounds: *rounds, Screenshots: *shots,
		Out: os.Stdout, Err: os.Stderr, TTY: st != nil && st.Mode()&os.ModeCharDevice != 0})
	if err != nil {
		stop()
		os.Exit(1)
	}
}

// envInt reads a whole number from the environment (-1 when it is not one).
func envInt(name string) int {
	v := os.Getenv(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}
