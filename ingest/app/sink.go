package app

import (
	"context"

	"github.com/ponte-city/ponte/ingest/influx"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/wire"
)

// influxSink is the InfluxDB sink as the pipeline's Sink. The adaptation
// lives here, where both are wired, rather than in either package: the
// pipeline (service) defines the Sink it needs and builds and tests
// without InfluxDB, and the InfluxDB sink (influx) is a driver that knows
// nothing of the pipeline, so neither imports the other. Only the
// rejected list needs converting, and only when there is one.
type influxSink struct{ *influx.Sink }

// Write implements service.Sink.
func (s influxSink) Write(ctx context.Context, gateway string, readings []wire.Reading) ([]service.Rejected, error) {
	rej, err := s.Sink.Write(ctx, gateway, readings)
	if len(rej) == 0 {
		return nil, err
	}
	out := make([]service.Rejected, len(rej))
	for i, r := range rej {
		out[i] = service.Rejected{Reading: r.Reading, Reason: r.Reason}
	}
	return out, err
}
