package agent

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the agent's own metrics, beside those of the buffer, the
// sources and the forwarder on the same registry.
type metrics struct {
	info         *prometheus.GaugeVec
	reloads      *prometheus.CounterVec
	appendErrors prometheus.Counter
	devices      prometheus.Gauge
	ready        prometheus.Gauge
	// refused is 1 while ingest refuses every reading of a device
	// (StateRefused): ponte_edge_device_up says only that the gateway
	// reads it.
	refused *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ponte_edge_agent_info",
			Help: "Always 1; the labels name the gateway and the agent's version.",
		}, []string{"gateway", "version"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_agent_reloads_total",
			Help: "Reloads of the site config by result: ok, refused (a setting that needs a restart changed), error (the config has errors).",
		}, []string{"result"}),
		appendErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_edge_agent_append_errors_total",
			Help: "Readings the buffer refused (it was closed or a record was too large).",
		}),
		devices: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_edge_agent_devices",
			Help: "Devices in the running site config.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_edge_agent_ready",
			Help: "1 while the buffer is open and the sources run (what /readyz reports).",
		}),
		refused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ponte_edge_device_refused",
			Help: "1 while ingest refuses every reading of the device (dead-lettered centrally: nothing of it reaches the time series), else 0.",
		}, []string{"device"}),
	}
	if reg != nil {
		reg.MustRegister(m.info, m.reloads, m.appendErrors, m.devices, m.ready, m.refused)
	}
	for _, r := range []string{"ok", "refused", "error"} {
		m.reloads.WithLabelValues(r)
	}
	return m
}

// deleter is a metric vector from which a device's series can be removed.
type deleter interface {
	DeletePartialMatch(prometheus.Labels) int
}

// forgetDevice removes a device's series from vecs, so a device taken out
// by a reload does not show its last values forever.
func forgetDevice(name string, vecs ...deleter) {
	for _, v := range vecs {
		v.DeletePartialMatch(prometheus.Labels{"device": name})
	}
}
