package agent

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/edge/transport"
	"github.com/ponte-city/ponte/internal/profile"
)

// namedSource is one transport's source.
type namedSource struct {
	kind    profile.Kind
	src     source.Source
	devices []string // the devices' names
}

// buildSources creates one source per transport for the site's devices,
// in transport.All's order. Nothing is opened yet: the sources connect
// when run.
func (a *Agent) buildSources(s *Site) ([]namedSource, error) {
	byKind := map[profile.Kind][]source.Device{}
	for _, d := range s.sources {
		byKind[d.Profile.Kind] = append(byKind[d.Profile.Kind], d)
	}
	var out []namedSource
	for _, t := range transport.All() {
		devs := byKind[t.Kind]
		if len(devs) == 0 {
			continue
		}
		src, err := t.New(devs, transport.Env{Logger: a.log.With("source", string(t.Kind)), Metrics: a.srcMetrics,
			MQTTMetrics: a.mqttMetrics,
			// Not the forwarder's client ID: when the devices' broker is
			// the uplink broker, equal IDs would throw each other out.
			ClientID: "ponte-edge-" + s.Gateway.ID + "-devices"})
		if err != nil {
			return nil, fmt.Errorf("build %s source: %w", t.Kind, err)
		}
		names := make([]string, len(devs))
		for i, d := range devs {
			names[i] = d.Name
		}
		out = append(out, namedSource{t.Kind, src, names})
	}
	return out, nil
}

// runningSources is a set of sources running until stopped.
type runningSources struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startSources runs srcs, each in its own goroutine, handing readings to
// emit. The caller owns the goroutines through stop.
func startSources(ctx context.Context, log *slog.Logger, srcs []namedSource, emit source.Emitter) *runningSources {
	ctx, cancel := context.WithCancel(ctx)
	r := &runningSources{cancel: cancel}
	for _, s := range srcs {
		r.wg.Go(func() {
			// A source returns an error only if it could not start at all;
			// the others keep running, and the devices show as unknown.
			if err := s.src.Run(ctx, emit); err != nil {
				log.Error("source stopped", "source", s.kind, "err", err)
			}
		})
	}
	return r
}

// stop cancels the sources and waits until they have returned: after it,
// no source calls emit.
func (r *runningSources) stop() {
	r.cancel()
	r.wg.Wait()
}
