package serial

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ponte-city/ponte/edge/source"
)

// Default retry waits for a device whose port fails.
const (
	DefaultBackoffBase = time.Second
	DefaultBackoffMax  = time.Minute
)

// Config configures a serial Source.
type Config struct {
	// Devices are the serial line devices to read; each needs a profile of
	// kind serial and a serial:// address.
	Devices []source.Device
	// Logger receives state changes (Info/Warn) and per-frame detail
	// (Debug); nil discards.
	Logger *slog.Logger
	// Metrics receives the per-device metrics; nil records none.
	Metrics *source.Metrics
	// BackoffBase and BackoffMax bound the wait before reopening a port
	// that failed (defaults DefaultBackoffBase and DefaultBackoffMax).
	BackoffBase, BackoffMax time.Duration
}

// Validate checks the configuration, reporting every device's problems,
// each naming the device.
func (c Config) Validate() error {
	var errs []error
	if c.BackoffBase < 0 {
		errs = append(errs, fmt.Errorf("serial source: backoff base %s is negative", c.BackoffBase))
	}
	if c.BackoffMax < 0 {
		errs = append(errs, fmt.Errorf("serial source: backoff max %s is negative", c.BackoffMax))
	}
	if c.BackoffBase > 0 && c.BackoffMax > 0 && c.BackoffMax < c.BackoffBase {
		errs = append(errs, fmt.Errorf("serial source: backoff max %s is below backoff base %s", c.BackoffMax, c.BackoffBase))
	}
	names := map[string]bool{}
	for i, d := range c.Devices {
		if d.Name != "" && names[d.Name] {
			errs = append(errs, fmt.Errorf("serial device %d: name %q used twice", i, d.Name))
		}
		names[d.Name] = true
		if _, err := newDevice(d, nil, nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Source reads serial line devices, one goroutine per device. Create it
// with New; Run may be called once.
type Source struct {
	devices []*device
	base    time.Duration
	max     time.Duration
}

var _ source.Source = (*Source)(nil)

// New validates cfg and returns a Source for its devices.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Source{base: cfg.BackoffBase, max: cfg.BackoffMax}
	if s.base == 0 {
		s.base = DefaultBackoffBase
	}
	if s.max == 0 {
		s.max = max(DefaultBackoffMax, s.base)
	}
	for _, dc := range cfg.Devices {
		d, err := newDevice(dc, log, cfg.Metrics)
		if err != nil {
			return nil, err
		}
		s.devices = append(s.devices, d)
	}
	return s, nil
}

// Run reads every device until ctx is cancelled, then returns nil. Calls
// to emit are serialised (never concurrent), and each device's readings
// arrive in the order its frames did.
func (s *Source) Run(ctx context.Context, emit source.Emitter) error {
	serial := source.Serialize(emit)
	var wg sync.WaitGroup
	for _, d := range s.devices {
		wg.Go(func() { d.run(ctx, serial, s.base, s.max) })
	}
	wg.Wait()
	return nil
}
