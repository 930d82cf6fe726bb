package modbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/backoff"
)

// ErrRunning is returned by Run when the Source is already running.
var ErrRunning = errors.New("modbus source already running")

// Source polls Modbus TCP and RTU devices; it implements source.Source.
// Its buses run in parallel, each in one goroutine; Run may be called once
// at a time.
type Source struct {
	buses   []*bus
	running atomic.Bool
}

var _ source.Source = (*Source)(nil)

// New checks cfg and groups its devices into buses: every device on the
// same rtu:// path shares one line and one goroutine, every device on the
// same tcp://host:port shares one connection and one goroutine.
func New(cfg Config) (*Source, error) {
	return newSource(cfg, newLink)
}

func newSource(cfg Config, mkLink func(key string, line *source.SerialLine) link) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("modbus source: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, maxB := cfg.BackoffBase, cfg.BackoffMax
	if base == 0 {
		base = DefaultBackoffBase
	}
	if maxB == 0 {
		maxB = max(DefaultBackoffMax, base)
	}
	s := &Source{}
	byKey := map[string]*bus{}
	shared := plans{}
	for _, d := range cfg.Devices {
		key, line, _ := busKey(d.Address) // checked by Validate
		b := byKey[key]
		if b == nil {
			b = &bus{key: key, link: mkLink(key, line), log: log.With("bus", key), metrics: cfg.Metrics, ops: make(chan busOp),
				backoff: backoff.Policy{Base: base, Max: maxB}.Wait}
			byKey[key] = b
			s.buses = append(s.buses, b)
		}
		dev := newDevice(d, b.log)
		shared.share(dev)
		b.devs = append(b.devs, dev)
	}
	return s, nil
}

// newLink opens nothing yet: TCP connects and RTU opens its port on the
// first request, so a missing device is a failing device, not a failed
// start.
func newLink(key string, line *source.SerialLine) link {
	if line != nil {
		return newRTULink(*line)
	}
	return newTCPLink(strings.TrimPrefix(key, "tcp://"))
}

// Run polls every device until ctx is cancelled, then closes the
// connections and returns nil. emit is called from one goroutine at a
// time, once per poll, with the readings of that poll.
func (s *Source) Run(ctx context.Context, emit source.Emitter) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer s.running.Store(false)
	serial := source.Serialize(emit)
	var wg sync.WaitGroup
	for _, b := range s.buses {
		wg.Go(func() { b.run(ctx, serial) })
	}
	wg.Wait()
	return nil
}

// Probe reads every point of dev (fast and slow) once, for a technician's
// check at the roadside, and returns a Result per point with the raw
// bytes read. The error is non-nil if dev is unusable (address, profile)
// or if not a single read succeeded; the results, bad readings included,
// are returned in the latter case too.
func Probe(ctx context.Context, dev source.Device, log *slog.Logger) ([]Result, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if dev.Interval == 0 {
		dev.Interval = time.Second // not polled; only to pass validation
	}
	cfg := Config{Devices: []source.Device{dev}}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	key, line, _ := busKey(dev.Address)
	l := newLink(key, line)
	defer l.close()
	d := newDevice(dev, log)
	start := time.Now()
	res, o := readAll(ctx, l, d, Plan(d.m, ""), nil, true)
	log.Debug("modbus probe", "device", dev.Name, "ok", o.ok, "failed", o.failed, "took", time.Since(start))
	if o.canceled {
		return res, ctx.Err()
	}
	if o.ok == 0 && o.err != nil {
		return res, fmt.Errorf("probe %s: %w", dev.Name, o.err)
	}
	return res, nil
}
