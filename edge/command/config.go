package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// DefaultMaxQueued is Config.MaxQueued's default.
const DefaultMaxQueued = 64

// DefaultClockSkew is Config.ClockSkew's default: how far behind the
// command's issue time the gateway's clock may be (ingest's and the
// gateway's clocks differ by NTP's error and the transit time).
const DefaultClockSkew = 2 * time.Minute

// Device is a device commands may write: its profile (the gateway's own
// copy, against which every command is checked again) and the source that
// writes it.
type Device struct {
	Profile *profile.Profile
	// Writer writes the device's points; nil when its source cannot
	// write (a command is then refused).
	Writer source.Writer
	// Timeout is one request's timeout on the device's link (Modbus: the
	// device's timeout). A write is given three of them (waiting for the
	// bus, the write, the read-back) plus the point's settle time. Zero
	// means the write completes asynchronously (a LoRaWAN downlink
	// confirmed by an uplink) and may take until the command expires.
	Timeout time.Duration
}

// Config configures an Executor.
type Config struct {
	// Gateway is this gateway's ID, put in every report.
	Gateway string
	// Devices are the gateway's devices by name (as in the site config).
	Devices map[string]Device
	// Dir holds the journal (JournalFile); it is created if missing.
	Dir string
	// Report publishes a report (uplink.Forwarder.PublishReport) and
	// returns nil once the broker acknowledged it. It is called from one
	// goroutine at a time.
	Report func(ctx context.Context, r *wire.Report) error
	// MaxQueued caps the commands waiting or running across all devices
	// (default DefaultMaxQueued); beyond it a command fails with
	// "gateway busy".
	MaxQueued int
	// Clock returns the gateway's time (nil: time.Now).
	Clock func() time.Time
	// ClockSkew is how far the gateway's clock may be behind a command's
	// issue time (default DefaultClockSkew). A clock further behind is
	// wrong (an RTC that lost time, no NTP yet) and cannot judge the
	// command's expiry: the command is refused, never written late.
	ClockSkew time.Duration
	// Logger receives each command's outcome (nil: discard).
	Logger *slog.Logger
	// Registerer receives the metrics (nil: not registered).
	Registerer prometheus.Registerer
}

// Validate checks c; every error names the field.
func (c *Config) Validate() error {
	var errs []error
	if !wire.ValidGatewayID(c.Gateway) {
		errs = append(errs, fmt.Errorf("command executor: gateway %q: expected a gateway ID", c.Gateway))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("command executor: dir: expected the folder of the command journal"))
	}
	if c.Report == nil {
		errs = append(errs, errors.New("command executor: report: expected a function that publishes reports"))
	}
	if c.MaxQueued < 0 {
		errs = append(errs, fmt.Errorf("command executor: max_queued %d: expected 0 (default %d) or more", c.MaxQueued, DefaultMaxQueued))
	}
	if c.ClockSkew < 0 {
		errs = append(errs, fmt.Errorf("command executor: clock_skew %s: expected 0 (default %s) or more", c.ClockSkew, DefaultClockSkew))
	}
	for name, d := range c.Devices {
		if d.Profile == nil {
			errs = append(errs, fmt.Errorf("command executor: device %s: no profile", name))
		}
		if d.Timeout < 0 {
			errs = append(errs, fmt.Errorf("command executor: device %s: timeout %s: expected 0 or more", name, d.Timeout))
		}
	}
	return errors.Join(errs...)
}

// metrics are the executor's Prometheus metrics.
type metrics struct {
	commands   *prometheus.CounterVec
	inFlight   prometheus.Gauge
	badLines   prometheus.Counter
	dropped    prometheus.Counter
	unreadable prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_commands_total",
			Help: "Commands received, by outcome: applied, refused, failed, expired (final reports), repeat (an ID already ended, answered with its kept report), malformed (payload not a command).",
		}, []string{"status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_edge_commands_in_flight",
			Help: "Commands queued or being written.",
		}),
		badLines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_edge_command_journal_bad_lines_total",
			Help: "Journal lines skipped at start (torn by a crash or failing their CRC).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_edge_command_journal_dropped_total",
			Help: "Final command reports the broker never acknowledged, dropped from the journal because more than its bound were kept.",
		}),
		unreadable: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_edge_command_journal_unreadable",
			Help: "1 when the command journal could not be read at start (every command is refused until a technician repairs or removes it), else 0.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.commands, m.inFlight, m.badLines, m.dropped, m.unreadable} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("command executor: register metrics: %w", err)
			}
		}
	}
	return m, nil
}
