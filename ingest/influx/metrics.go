package influx

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the sink's Prometheus metrics.
type metrics struct {
	requests  *prometheus.CounterVec // by result: ok, refused, retry
	points    prometheus.Counter
	rejected  *prometheus.CounterVec // by where: local, server
	retries   prometheus.Counter
	duration  prometheus.Histogram
	batch     prometheus.Histogram
	pending   prometheus.Gauge
	healthy   prometheus.Gauge
	failing   prometheus.Gauge
	abandoned prometheus.Counter

	probeResumes prometheus.Counter
}

// newMetrics creates the metrics and registers them on reg (if not nil).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_ingest_influx_requests_total",
			Help: "HTTP writes to InfluxDB by result: ok (accepted), refused (4xx naming points), retry (network error, 5xx, 429 or a configuration error).",
		}, []string{"result"}),
		points: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_ingest_influx_points_written_total",
			Help: "Readings InfluxDB accepted (one field each; the readings of a device at one time share a line).",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_ingest_influx_points_rejected_total",
			Help: "Readings returned as rejected, by where: local (cannot be written as line protocol) or server (InfluxDB refused them).",
		}, []string{"where"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_ingest_influx_retries_total",
			Help: "Writes tried again after a backoff.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ponte_ingest_influx_write_duration_seconds",
			Help:    "Duration of one HTTP write to InfluxDB.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ponte_ingest_influx_batch_points",
			Help:    "Lines (InfluxDB points) per HTTP write.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_ingest_influx_pending_points",
			Help: "Readings queued by Write and not yet written or rejected.",
		}),
		healthy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_ingest_influx_healthy",
			Help: "1 when the last write or ping to InfluxDB succeeded.",
		}),
		failing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_ingest_influx_backoff",
			Help: "1 while writes are failing and retried with backoff.",
		}),
		abandoned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_ingest_influx_points_abandoned_total",
			Help: "Readings dropped before being written because their Write call's context ended.",
		}),
		probeResumes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_ingest_influx_probe_resumes_total",
			Help: "Outages of InfluxDB ended by a readiness probe (/ping answered during the backoff and the write tried at once succeeded) rather than by the backoff timer.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.points, m.rejected, m.retries, m.duration, m.batch, m.pending, m.healthy, m.failing, m.abandoned, m.probeResumes} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("register influx sink metrics: %w (one sink per registry)", err)
			}
			return nil, fmt.Errorf("register influx sink metrics: %w", err)
		}
	}
	return m, nil
}
