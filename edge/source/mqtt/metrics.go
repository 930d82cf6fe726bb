package mqtt

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the MQTT source's own metrics, beside the per-device
// source.Metrics: broker connections and what happened to messages that
// did not become readings. Broker labels are addresses without passwords.
// Safe for concurrent use.
type Metrics struct {
	// Connected is 1 while the broker connection is up.
	Connected *prometheus.GaugeVec
	// Subscribed is 1 once every topic filter was granted on the current
	// connection; 0 while connected but deaf is the failure to alert on.
	Subscribed *prometheus.GaugeVec
	// ConnectionsLost counts lost broker connections.
	ConnectionsLost *prometheus.CounterVec
	// Messages counts messages received, per broker.
	Messages *prometheus.CounterVec
	// Dropped counts messages that produced no readings, by reason:
	// unknown_device, no_device_id, bad_payload, no_route,
	// retained_without_time.
	Dropped *prometheus.CounterVec
	// FieldsMissing counts fields a device's payload left out (skipped).
	FieldsMissing *prometheus.CounterVec
	// TimeIssues counts messages whose payload time was absent or
	// unparsable (stamped with the receipt time) or skewed (kept).
	TimeIssues *prometheus.CounterVec
	// NotDurable counts emits of a message's readings whose Commit
	// failed: the message was not acknowledged, and its readings were
	// emitted again after a backoff (or left to the broker's redelivery).
	NotDurable *prometheus.CounterVec
	// Silent is 1 while a device has sent nothing for SilentAfter of its
	// intervals.
	Silent *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ponte_edge_mqtt_broker_connected",
			Help: "1 while the connection to the MQTT broker is up.",
		}, []string{"broker"}),
		Subscribed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ponte_edge_mqtt_broker_subscribed",
			Help: "1 once every topic filter was granted on the current broker connection.",
		}, []string{"broker"}),
		ConnectionsLost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_mqtt_broker_connections_lost_total",
			Help: "Lost connections to the MQTT broker.",
		}, []string{"broker"}),
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_mqtt_messages_total",
			Help: "MQTT messages received.",
		}, []string{"broker"}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_mqtt_messages_dropped_total",
			Help: "MQTT messages that produced no readings, by reason.",
		}, []string{"broker", "reason"}),
		FieldsMissing: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_mqtt_fields_missing_total",
			Help: "Profile fields absent from a device's payload (skipped).",
		}, []string{"device", "point"}),
		TimeIssues: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_mqtt_payload_time_issues_total",
			Help: "Messages whose payload time was absent, unparsable (receipt time used) or skewed (kept).",
		}, []string{"device", "issue"}),
		NotDurable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_mqtt_messages_not_durable_total",
			Help: "Emits of an MQTT message's readings that the buffer did not make durable; the message was not acknowledged.",
		}, []string{"broker"}),
		Silent: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ponte_edge_mqtt_device_silent",
			Help: "1 while the device has sent nothing for several of its expected intervals.",
		}, []string{"device"}),
	}
	if reg != nil {
		reg.MustRegister(m.Connected, m.Subscribed, m.ConnectionsLost, m.Messages, m.Dropped, m.FieldsMissing, m.TimeIssues, m.NotDurable, m.Silent)
	}
	return m
}
