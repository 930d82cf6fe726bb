package app

import (
	"context"
	"log/slog"

	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/wire"
)

// releaser applies the Retained of gateways' status messages to the dedup
// state (service.Release) off paho's goroutine: the dedup lock can be held
// for as long as InfluxDB is down, and paho's router must never wait.
// Status messages are advisory (every batch carries Retained too), so one
// that finds the queue full is dropped.
type releaser struct {
	svc *service.Service
	log *slog.Logger
	q   chan wire.Status
}

func newReleaser(svc *service.Service, log *slog.Logger) *releaser {
	return &releaser{svc: svc, log: log, q: make(chan wire.Status, 64)}
}

// offer queues st if it states what its gateway retains; it never blocks.
func (r *releaser) offer(st wire.Status) {
	if st.Retained == 0 || st.Epoch == 0 {
		return
	}
	select {
	case r.q <- st:
	default:
	}
}

// run applies queued statuses until ctx ends.
func (r *releaser) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case st := <-r.q:
			if _, _, err := r.svc.Release(ctx, st.Gateway, st.Epoch, st.Retained); err != nil && ctx.Err() == nil {
				r.log.Warn("gateway status not applied to the dedup state", "gateway", st.Gateway, "epoch", st.Epoch, "retained", st.Retained, "err", err)
			}
		}
	}
}

// both returns a status handler calling a then b, skipping nil ones.
func both(a, b func(wire.Status)) func(wire.Status) {
	return func(st wire.Status) {
		if a != nil {
			a(st)
		}
		if b != nil {
			b(st)
		}
	}
}
