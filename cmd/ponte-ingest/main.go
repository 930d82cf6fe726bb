// Command ponte-ingest is Ponte's central ingest service: it receives
// gateway batches over MQTT (an external broker, or its embedded one) and
// HTTP, writes them to InfluxDB exactly once in effect, and acknowledges
// them to the gateways. See packages ingest/app and ingest/service.
//
//	ponte-ingest --config /etc/ponte/ponte-ingest.yaml [--http 127.0.0.1:8080]
//	             [--broker-url tcp://broker:1883] [--influx-url http://influx:8086]
//	             [--state-dir DIR] [--log-level info]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/internal/sdnotify"
	"github.com/ponte-city/ponte/internal/version"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ponte-ingest:", err)
		os.Exit(1)
	}
}

func run() error {
	path := flag.String("config", "", "configuration file (YAML; required)")
	httpAddr := flag.String("http", "", "listen address for batches, /healthz, /readyz, /metrics (overrides http.listen)")
	brokerURL := flag.String("broker-url", "", "external MQTT broker URL (overrides broker.url; none: embedded broker)")
	influxURL := flag.String("influx-url", "", "InfluxDB URL (overrides influx.url)")
	stateDir := flag.String("state-dir", "", "dedup state directory (overrides state_dir)")
	level := flag.String("log-level", "info", "log level: debug, info, warn, error")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Line("ponte-ingest"))
		return nil
	}
	if *path == "" {
		flag.Usage()
		return fmt.Errorf("--config is required")
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level %q: expected debug, info, warn or error", *level)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	for _, w := range cfg.SecretWarnings() {
		w.Log(log)
	}
	overrides := []struct {
		val string
		dst *string
	}{{*httpAddr, &cfg.HTTP.Listen}, {*brokerURL, &cfg.Broker.URL}, {*influxURL, &cfg.Influx.URL}, {*stateDir, &cfg.StateDir}}
	for _, o := range overrides {
		if o.val != "" {
			*o.dst = o.val
		}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// systemd (Type=notify): ready, and the watchdog fed, while /healthz
	// answers. Not /readyz: ingest rides out an InfluxDB or broker outage
	// by holding back (gateways keep their buffers), and a restart would
	// not cure it; a hung process is what the watchdog is for.
	started := func(a app.Addrs) {
		go sdnotify.Log(ctx, log, sdnotify.Config{Healthy: sdnotify.HTTPCheck("http://" + a.Ops + "/healthz")})
	}
	return app.Run(ctx, cfg, app.Options{Logger: log, Started: started})
}
