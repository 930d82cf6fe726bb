package alarms

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus metrics.
type metrics struct {
	open        *prometheus.GaugeVec
	raised      *prometheus.CounterVec
	refused     prometheus.Counter
	dropped     prometheus.Counter
	writeErrors prometheus.Counter
	leader      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ponte_twin_alarms_open",
			Help: "Open alarms (raised, acknowledged, cleared but unacknowledged) by severity and state."}, []string{"severity", "state"}),
		raised: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ponte_twin_alarms_raised_total",
			Help: "Alarms raised, by severity."}, []string{"severity"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "ponte_twin_alarms_refused_total",
			Help: "Alarms not raised because the open alarms were at their cap."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "ponte_twin_alarm_streams_dropped_total",
			Help: "Alarm event streams dropped because they did not keep up."}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "ponte_twin_alarms_state_write_errors_total",
			Help: "Failed writes of the alarms' state file (or, shared, of an alarm to the store)."}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ponte_twin_alarms_leader",
			Help: "1 while this instance evaluates the alarm rules (always on one machine; on a cluster, the one holding the lead)."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.open, m.raised, m.refused, m.dropped, m.writeErrors, m.leader} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range severities {
		m.raised.WithLabelValues(string(s))
	}
	return m, nil
}

// updateGauges recounts the open alarms, under e.mu.
func (e *Engine) updateGauges() {
	for _, s := range severities {
		for _, st := range []State{Raised, Acknowledged, Cleared} {
			n := 0
			for _, a := range e.open {
				if a.Severity == s && a.State == st {
					n++
				}
			}
			e.m.open.WithLabelValues(string(s), string(st)).Set(float64(n))
		}
	}
}
