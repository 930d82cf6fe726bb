package source

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the per-device acquisition metrics every source reports.
// One Metrics serves all sources of an agent; it is safe for concurrent use.
type Metrics struct {
	PollDuration *prometheus.HistogramVec
	Success      *prometheus.GaugeVec
	Errors       *prometheus.CounterVec
	LastGood     *prometheus.GaugeVec
	Readings     *prometheus.CounterVec
	// Skipped and Late count a polled device's slots that its bus missed
	// (fell too far behind to poll them) and polled late (at least an
	// interval after their time): under CPU starvation or on an
	// oversubscribed line, the first is readings lost, the second late.
	Skipped *prometheus.CounterVec
	Late    *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		PollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ponte_edge_device_poll_duration_seconds",
			Help:    "Time taken by one poll of a device (all its requests).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"device"}),
		Success: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ponte_edge_device_up",
			Help: "1 if the last poll of the device succeeded, 0 if it failed.",
		}, []string{"device"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_device_errors_total",
			Help: "Failed polls or frames by device and kind (timeout, comm, exception, decode, checksum, framing, payload).",
		}, []string{"device", "kind"}),
		LastGood: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ponte_edge_device_last_good_read_timestamp_seconds",
			Help: "Unix time of the device's last good reading.",
		}, []string{"device"}),
		Readings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_device_readings_total",
			Help: "Readings produced by device and quality.",
		}, []string{"device", "quality"}),
		Skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_device_polls_skipped_total",
			Help: "Poll slots of a device skipped because its bus had fallen too far behind (not counting backoff).",
		}, []string{"device"}),
		Late: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_device_polls_late_total",
			Help: "Polls of a device started an interval or more after their slot (taken late rather than skipped).",
		}, []string{"device"}),
	}
	if reg != nil {
		reg.MustRegister(m.PollDuration, m.Success, m.Errors, m.LastGood, m.Readings, m.Skipped, m.Late)
	}
	return m
}

// Poll records one poll of device: how long it took and whether it worked.
func (m *Metrics) Poll(device string, took time.Duration, err error, errKind string) {
	if m == nil {
		return
	}
	m.PollDuration.WithLabelValues(device).Observe(took.Seconds())
	if err != nil {
		m.Success.WithLabelValues(device).Set(0)
		m.Errors.WithLabelValues(device, errKind).Inc()
		return
	}
	m.Success.WithLabelValues(device).Set(1)
	m.LastGood.WithLabelValues(device).Set(float64(time.Now().UnixNano()) / 1e9)
}

// Error counts one error of kind on device without a poll (e.g. a bad frame
// from a free-running device).
func (m *Metrics) Error(device, kind string) {
	if m == nil {
		return
	}
	m.Errors.WithLabelValues(device, kind).Inc()
}

// Good marks a good reading time for device (free-running and MQTT devices,
// which have no poll).
func (m *Metrics) Good(device string, at time.Time) {
	if m == nil {
		return
	}
	m.Success.WithLabelValues(device).Set(1)
	m.LastGood.WithLabelValues(device).Set(float64(at.UnixNano()) / 1e9)
}

// Schedule counts a poll's place in its device's schedule: late when it
// started an interval or more after its slot, and the slots skipped after
// it.
func (m *Metrics) Schedule(device string, late bool, skipped int) {
	if m == nil {
		return
	}
	if late {
		m.Late.WithLabelValues(device).Inc()
	}
	if skipped > 0 {
		m.Skipped.WithLabelValues(device).Add(float64(skipped))
	}
}
