package influxsink

import (
	"context"

	"github.com/ponte-city/ponte/ingest/influx"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/wire"
)

// Sink wraps an *influx.Sink as a service.Sink.
type Sink struct {
	S *influx.Sink
}

// Write implements service.Sink.
func (a Sink) Write(ctx context.Context, gateway string, readings []wire.Reading) ([]service.Rejected, error) {
	rej, err := a.S.Write(ctx, gateway, readings)
	if len(rej) == 0 {
		return nil, err
	}
	out := make([]service.Rejected, len(rej))
	for i, r := range rej {
		out[i] = service.Rejected{Reading: r.Reading, Reason: r.Reason}
	}
	return out, err
}

// Healthy implements service.Sink.
func (a Sink) Healthy() bool { return a.S.Healthy() }
