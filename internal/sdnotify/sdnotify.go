package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// DefaultPoll is how often Run checks health until the service is ready.
const DefaultPoll = 500 * time.Millisecond

// Config says what Run checks and how.
type Config struct {
	// Healthy reports whether the service works now (required). It is
	// called from Run's goroutine only and should return within a second.
	Healthy func(ctx context.Context) bool
	// Poll is how often Healthy is called until the service is ready
	// (default DefaultPoll).
	Poll time.Duration
	// Logger receives health changes (default: discarded).
	Logger *slog.Logger
}

// Validate checks c.
func (c Config) Validate() error {
	var errs []error
	if c.Healthy == nil {
		errs = append(errs, errors.New("sdnotify config: healthy: required (the service's health check)"))
	}
	if c.Poll < 0 {
		errs = append(errs, fmt.Errorf("sdnotify config: poll %s is negative", c.Poll))
	}
	return errors.Join(errs...)
}

// Run notifies systemd until ctx ends (see the package docs). It returns
// nil at once when NOTIFY_SOCKET is unset, an error when the config is
// invalid or the socket refuses a message.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return nil
	}
	if cfg.Poll == 0 {
		cfg.Poll = DefaultPoll
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	watchdog, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	tick := time.NewTicker(cfg.Poll)
	defer tick.Stop()
	for !cfg.Healthy(ctx) {
		select {
		case <-ctx.Done():
			return notify(daemon.SdNotifyStopping)
		case <-tick.C:
		}
	}
	if err := notify(daemon.SdNotifyReady); err != nil {
		return err
	}
	log.Info("told systemd: ready", "watchdog", watchdog)
	if watchdog > 0 {
		tick.Reset(watchdog / 2)
	} else {
		tick.Stop()
	}
	healthy := true
	for {
		select {
		case <-ctx.Done():
			return notify(daemon.SdNotifyStopping)
		case <-tick.C:
		}
		now := cfg.Healthy(ctx)
		if now != healthy {
			if now {
				log.Info("healthy again: watchdog resumed")
			} else {
				log.Warn("unhealthy: watchdog paused, systemd restarts the service if this lasts", "watchdog", watchdog)
			}
			healthy = now
		}
		if healthy {
			if err := notify(daemon.SdNotifyWatchdog); err != nil {
				return err
			}
		}
	}
}

// notify sends state to NOTIFY_SOCKET.
func notify(state string) error {
	if _, err := daemon.SdNotify(false, state); err != nil {
		return fmt.Errorf("sdnotify: send %s to NOTIFY_SOCKET %s: %w", state, os.Getenv("NOTIFY_SOCKET"), err)
	}
	return nil
}

// HTTPCheck returns a health check that is true while GET url answers 200
// within a second (a service's /readyz).
func HTTPCheck(url string) func(ctx context.Context) bool {
	client := &http.Client{Timeout: time.Second}
	return func(ctx context.Context) bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false
		}
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
}

// Log runs Run with cfg (its Logger set to log) and logs the error Run
// returns, if any: the service goes on without systemd's notifications.
func Log(ctx context.Context, log *slog.Logger, cfg Config) {
	cfg.Logger = log.With("part", "sdnotify")
	if err := Run(ctx, cfg); err != nil {
		log.Error("systemd notification failed", "err", err)
	}
}
