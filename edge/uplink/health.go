package uplink

import (
	"context"
	"sync"
	"time"

	"github.com/ponte-city/ponte/wire"
)

// health is the gateway's summary for its status message: what the
// buffer holds unacknowledged (Stats.Records, from the oldest record not
// acknowledged or dropped), when the oldest of it was appended (the
// buffer's append time, which it keeps per record; a polled reading is
// appended within milliseconds of its acquisition), and the devices up
// and bad as Config.Devices counts them (zero without it).
func (f *Forwarder) health() *wire.Health {
	bs := f.buf.Stats()
	h := &wire.Health{Buffered: bs.Records}
	if bs.Records > 0 && bs.OldestAge > 0 {
		h.Oldest = time.Now().Add(-bs.OldestAge).UTC().Truncate(time.Millisecond)
	}
	if f.cfg.Devices != nil {
		h.DevicesUp, h.DevicesBad = f.cfg.Devices()
		h.DevicesUp = min(max(h.DevicesUp, 0), wire.MaxHealthDevices)
		h.DevicesBad = min(max(h.DevicesBad, 0), wire.MaxHealthDevices)
	}
	return h
}

// heartbeat republishes the retained "online" status with fresh health
// every StatusInterval on c, on its own goroutine, so a slow broker never
// holds back a batch. Each publish waits at most ConnectTimeout for its
// PUBACK; a failure is logged and counted, never fatal: the next interval
// tries again, and a dead link is noticed by the sender. stop ends it and
// waits, so that nothing it publishes can follow the "offline" status.
func (f *Forwarder) heartbeat(c *conn) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(f.cfg.StatusInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			f.publishOnline(ctx, c)
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// publishOnline publishes the retained "online" status with health once,
// bounded by ctx and ConnectTimeout, and reports failure in the log and
// ponte_edge_uplink_status_publishes_total.
func (f *Forwarder) publishOnline(ctx context.Context, c *conn) {
	msg := f.statusMsg(wire.StateOnline, f.health())
	err := waitToken(ctx, c.client.Publish(f.status, 1, true, msg), f.cfg.ConnectTimeout)
	switch {
	case err == nil:
		f.m.statuses.WithLabelValues("ok").Inc()
	case ctx.Err() != nil:
		// Stopping: the session's end publishes its own status.
	default:
		f.m.statuses.WithLabelValues("error").Inc()
		f.log.Warn("uplink status not published; trying again at the next interval", "topic", f.status, "err", err,
			"status_interval", f.cfg.StatusInterval)
	}
}
