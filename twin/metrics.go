package twin

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the twin's Prometheus metrics.
type metrics struct {
	readings    *prometheus.CounterVec
	changes     prometheus.Counter
	subscribers prometheus.Gauge
	dropped     prometheus.Counter
	entities    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		readings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ponte_twin_readings_total",
			Help: "Readings given to the twin, by outcome: good (applied), bad_quality, unknown_device, late (older than the point's value)."},
			[]string{"outcome"}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{Name: "ponte_twin_changes_total",
			Help: "Entity changes emitted."}),
		subscribers: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ponte_twin_subscribers",
			Help: "Current change subscribers (SSE streams)."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "ponte_twin_subscribers_dropped_total",
			Help: "Subscribers dropped because they did not keep up."}),
		entities: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ponte_twin_entities",
			Help: "Entities of the twin (sites, roads, areas, gateways)."}),
	}
	for _, c := range []prometheus.Collector{m.readings, m.changes, m.subscribers, m.dropped, m.entities} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("twin: register metrics: %w", err)
		}
	}
	return m, nil
}
