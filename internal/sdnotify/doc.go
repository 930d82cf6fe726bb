// Package sdnotify tells systemd how a service is doing, over the
// sd_notify protocol (github.com/coreos/go-systemd/v22/daemon), so that the
// units in deploy/systemd can be Type=notify with a watchdog:
//
//   - READY=1 once the service's health check first passes (the edge agent:
//     buffer open and sources started; ingest: its /readyz), so that
//     `systemctl start` returns when the service really works and units
//     ordered after it start then;
//   - WATCHDOG=1 every half WatchdogSec, but only while the check passes:
//     a service that stays unhealthy for WatchdogSec is restarted by
//     systemd (Restart=on-failure), a hung one too;
//   - STOPPING=1 when its context ends.
//
// Without NOTIFY_SOCKET (not started by systemd, or Type=simple) Run
// returns at once and sends nothing; without WATCHDOG_USEC it sends no
// WATCHDOG=1.
package sdnotify
