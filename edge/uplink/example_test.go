package uplink_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/edge/uplink"
	"github.com/prometheus/client_golang/prometheus"
)

// An agent wires the uplink to its buffer: mutual TLS with the gateway's
// own certificate, a replay cap for the mobile link, and Run under the
// agent's root context.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	reg := prometheus.NewRegistry()

	buf, err := buffer.Open(ctx, buffer.Config{Dir: "/var/lib/ponte/buffer", Logger: log, Registerer: reg})
	if err != nil {
		log.Error("open buffer", "err", err)
		return
	}
	defer buf.Close(context.Background())

	tlsCfg, err := uplink.LoadTLS("/etc/ponte/ca.pem", "/etc/ponte/gw-0042.pem", "/etc/ponte/gw-0042.key")
	if err != nil {
		log.Error("uplink tls", "err", err)
		return
	}
	f, err := uplink.New(uplink.Config{
		Gateway:    "gw-0042",
		Broker:     "mqtts://broker.city.example:8883",
		TLS:        tlsCfg,
		ReplayRate: 5000,
		AckTimeout: 30 * time.Second,
		Version:    "1.0.0",
		Logger:     log,
		Registerer: reg,
	}, buf)
	if err != nil {
		log.Error("uplink config", "err", err)
		return
	}
	// The agent's status API calls f.Status() from its own goroutine.
	if err := f.Run(ctx); err != nil {
		log.Error("uplink stopped", "err", err)
	}
}
