package command

import "github.com/prometheus/client_golang/prometheus"

// metrics are the Service's metrics.
type metrics struct {
	events       *prometheus.CounterVec
	open         prometheus.Gauge
	refused      *prometheus.CounterVec
	auditFailed  *prometheus.CounterVec
	auditBroken  prometheus.Counter
	auditDropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ponte_ingest_commands_total",
			Help: "Commands' audit events, by event (issued, approved, rejected, published, resent, received, sent, applied, refused, failed, expired)."}, []string{"event"}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ponte_ingest_commands_open",
			Help: "Commands not ended (awaiting approval, queued, received, sent)."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ponte_ingest_command_reports_refused_total",
			Help: "Gateways' reports not taken, by reason (malformed, unknown_command, wrong_gateway)."}, []string{"reason"}),
		auditFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ponte_ingest_command_audit_failures_total",
			Help: "Failed writes of audit entries, by store (file: the change was refused; influx: retried)."}, []string{"store"}),
		auditBroken: prometheus.NewCounter(prometheus.CounterOpts{Name: "ponte_ingest_command_audit_broken_total",
			Help: "Breaks of the audit log's hash chain found at start (with commands.audit_continue_broken)."}),
		auditDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "ponte_ingest_command_audit_points_dropped_total",
			Help: "Audit entries not written to InfluxDB (queue full or retries spent); the audit file has them."}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.open, m.refused, m.auditFailed, m.auditBroken, m.auditDropped)
	}
	return m
}
