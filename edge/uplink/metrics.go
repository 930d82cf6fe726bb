package uplink

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons an acknowledgement is ignored, the label of
// ponte_edge_uplink_bad_acks_total.
const (
	reasonDecode  = "decode"  // not a wire.Ack
	reasonGateway = "gateway" // names another gateway
	reasonEpoch   = "epoch"   // for another buffer epoch
	reasonBeyond  = "beyond"  // above the highest sequence number sent
)

// metrics are the forwarder's Prometheus metrics.
type metrics struct {
	connected   prometheus.Gauge
	batches     prometheus.Counter
	readings    prometheus.Counter
	resends     prometheus.Counter
	acks        prometheus.Counter
	ackedSeq    prometheus.Gauge
	inFlight    prometheus.Gauge
	badAcks     *prometheus.CounterVec
	badRecords  prometheus.Counter
	refused     prometheus.Counter
	connects    *prometheus.CounterVec
	statuses    *prometheus.CounterVec
	publishTime prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_edge_uplink_connected",
			Help: "1 while the uplink is connected to the broker and subscribed to its acknowledgements.",
		}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_edge_uplink_batches_sent_total",
			Help: "Batches published, re-sent ones included.",
		}),
		readings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_edge_uplink_readings_sent_total",
			Help: "Readings published, re-sent ones included.",
		}),
		resends: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_edge_uplink_resends_total",
			Help: "Times the uplink went back to the oldest unacknowledged reading with batches unacknowledged (ack timeout or reconnect).",
		}),
		acks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_edge_uplink_acks_total",
			Help: "Acknowledgements accepted from ingest (duplicates included).",
		}),
		ackedSeq: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_edge_uplink_acked_seq",
			Help: "Highest sequence number ingest acknowledged in this epoch.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_edge_uplink_in_flight_batches",
			Help: "Batches published and awaiting ingest's acknowledgement.",
		}),
		badAcks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_uplink_bad_acks_total",
			Help: "Acknowledgements ignored (decode, gateway, epoch) or clamped to the highest sequence sent (beyond), by reason.",
		}, []string{"reason"}),
		badRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_edge_uplink_bad_records_total",
			Help: "Buffer records that did not decode as readings; skipped, and freed with the acknowledgement that covers them.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_edge_uplink_refused_readings_total",
			Help: "Readings ingest acknowledged but refused (dead-lettered), as its acknowledgements report them (wire.Ack.Refused); /status shows them per device.",
		}),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_uplink_connects_total",
			Help: "Connection attempts, by result (ok, error).",
		}, []string{"result"}),
		statuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_uplink_status_publishes_total",
			Help: "Periodic retained online statuses (with the gateway's health) published, by result (ok, error).",
		}, []string{"result"}),
		publishTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ponte_edge_uplink_publish_seconds",
			Help:    "Time from publishing a batch to the broker's PUBACK.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
	}
	for _, r := range []string{reasonDecode, reasonGateway, reasonEpoch, reasonBeyond} {
		m.badAcks.WithLabelValues(r)
	}
	m.connects.WithLabelValues("ok")
	m.connects.WithLabelValues("error")
	m.statuses.WithLabelValues("ok")
	m.statuses.WithLabelValues("error")
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.connected, m.batches, m.readings, m.resends, m.acks, m.ackedSeq,
		m.inFlight, m.badAcks, m.badRecords, m.refused, m.connects, m.statuses, m.publishTime} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("register uplink metrics: %w (one Forwarder per registry)", err)
			}
			return nil, fmt.Errorf("register uplink metrics: %w", err)
		}
	}
	return m, nil
}
