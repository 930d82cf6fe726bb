package service

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/wire"
)

// Unknown-device policies.
const (
	PolicyAccept     = "accept"
	PolicyDeadLetter = "dead_letter"
)

// Config configures a Service.
type Config struct {
	// Sink receives the readings (required).
	Sink Sink
	// Applier receives newly durable readings (optional).
	Applier Applier
	// ApplyBeforeCommit hands the readings to the Applier before the
	// dedup state is committed (step 5), for an Applier that applies a
	// (gateway, epoch, seq) at most once however often it is given it
	// (ingest/replica): a crash between the two steps then cannot leave a
	// written batch unapplied, which matters when the instance redoing it
	// is another one, for which it is a replay. The Applier may be given a
	// batch again (redone after a crash or a lost compare-and-swap), and
	// the batch carries From and Retained so that it can mark the whole
	// range it covers.
	ApplyBeforeCommit bool
	// Dedup holds the high-water marks (required): a dedup.FileStore on
	// one machine, a dedup.KVStore shared by instances on several.
	Dedup dedup.Store
	// DeadLetter receives refused payloads (required).
	DeadLetter *deadletter.Dir

	// Gateways, when not empty, lists the gateways ingest accepts; a batch
	// from another is dead-lettered ("unknown_gateway"). Empty accepts
	// any valid gateway ID (the broker's ACL decides who may publish).
	Gateways []string
	// Devices lists, per gateway, the devices it is known to have; see
	// UnknownDevices.
	Devices map[string][]string
	// UnknownDevices is PolicyDeadLetter (default) or PolicyAccept: what
	// becomes of readings of a device its gateway's list does not hold.
	UnknownDevices string
	// MaxNewDevices caps, per gateway and hour, the devices not listed
	// (PolicyAccept, or a gateway without a list) whose readings are
	// written as new series; beyond it they are dead-lettered
	// (ReasonSeriesLimit). Default DefaultMaxNewDevices.
	MaxNewDevices int

	// MaxAge is how old a reading may be (default 30 days).
	MaxAge time.Duration
	// MaxFuture is how far ahead of ingest's clock a reading may be
	// (default 5 minutes).
	MaxFuture time.Duration

	// Workers is the number of pipeline goroutines (default 8).
	Workers int
	// QueueLen is the number of batches waiting per worker (default 64).
	QueueLen int
	// RetryBase and RetryMax bound the backoff between sink or dedup
	// retries (defaults 100ms and 5s).
	RetryBase, RetryMax time.Duration

	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Registerer receives the metrics (nil: not registered).
	Registerer prometheus.Registerer
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	var errs []error
	if c.Sink == nil {
		errs = append(errs, errors.New("service: sink: required"))
	}
	if c.Dedup == nil {
		errs = append(errs, errors.New("service: dedup: required"))
	}
	if c.DeadLetter == nil {
		errs = append(errs, errors.New("service: dead_letter: required"))
	}
	for i, g := range c.Gateways {
		if !wire.ValidGatewayID(g) {
			errs = append(errs, fmt.Errorf("service: gateways[%d]: %q is not a valid gateway ID (letters, digits, '-', '_', '.', 1 to 64)", i, g))
		}
	}
	switch c.UnknownDevices {
	case "":
		c.UnknownDevices = PolicyDeadLetter
	case PolicyAccept, PolicyDeadLetter:
	default:
		errs = append(errs, fmt.Errorf("service: unknown_devices: %q (expected %q or %q)", c.UnknownDevices, PolicyAccept, PolicyDeadLetter))
	}
	for name, d := range map[string]*time.Duration{"max_age": &c.MaxAge, "max_future": &c.MaxFuture, "retry_base": &c.RetryBase, "retry_max": &c.RetryMax} {
		if *d < 0 {
			errs = append(errs, fmt.Errorf("service: %s: %v (expected a positive duration)", name, *d))
		}
	}
	if c.MaxNewDevices < 0 {
		errs = append(errs, fmt.Errorf("service: max_new_devices: %d (expected a number of devices per hour, 0 for the default %d)", c.MaxNewDevices, DefaultMaxNewDevices))
	}
	if c.Workers < 0 || c.QueueLen < 0 {
		errs = append(errs, fmt.Errorf("service: workers %d, queue %d (expected positive numbers)", c.Workers, c.QueueLen))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.MaxAge, 30*24*time.Hour)
	def(&c.MaxFuture, 5*time.Minute)
	def(&c.RetryBase, 100*time.Millisecond)
	def(&c.RetryMax, 5*time.Second)
	if c.RetryMax < c.RetryBase {
		c.RetryMax = c.RetryBase
	}
	if c.MaxNewDevices == 0 {
		c.MaxNewDevices = DefaultMaxNewDevices
	}
	if c.Workers == 0 {
		c.Workers = 8
	}
	if c.QueueLen == 0 {
		c.QueueLen = 64
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
