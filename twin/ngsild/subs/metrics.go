package subs

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Manager's Prometheus metrics. None has a subscription
// label: a subscription's own counts are in its GET (notification.*).
type metrics struct {
	subscriptions prometheus.Gauge
	queued        prometheus.Gauge
	queuedBytes   prometheus.Gauge
	sent          prometheus.Counter
	failed        *prometheus.CounterVec
	dropped       *prometheus.CounterVec
}

// Reasons of failed attempts and of dropped notifications.
const (
	failStatus    = "status"    // the endpoint answered other than 2xx
	failTransport = "transport" // no answer: refused, reset, timeout
	failRefused   = "refused"   // an internal address not allowed (SSRF)

	dropQueueFull = "queue_full" // the subscription's queue was full: the oldest went
	dropAttempts  = "attempts"   // MaxAttempts failed
	dropExpired   = "expired"    // the subscription expired with it queued
	dropDeleted   = "deleted"    // the subscription was deleted with it queued
	dropRefused   = "refused"    // its endpoint is not allowed (SSRF): not retried
	dropBytes     = "bytes"      // over QueueBytes or TotalQueueBytes: the oldest went
	dropEncode    = "encode"     // its entities could not be encoded as JSON
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ponte_ngsild_subscriptions",
			Help: "NGSI-LD subscriptions held, of every scope."}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ponte_ngsild_notifications_queued",
			Help: "Notifications waiting for their endpoint, all subscriptions together."}),
		queuedBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ponte_ngsild_notifications_queued_bytes",
			Help: "Encoded size of the notifications waiting for their endpoint, all subscriptions together (bounded by TotalQueueBytes)."}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "ponte_ngsild_notifications_sent_total",
			Help: "Notifications an endpoint accepted (2xx)."}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ponte_ngsild_notification_failures_total",
			Help: "Failed notification attempts, by reason: status (non-2xx answer), transport (no answer), refused (internal address)."},
			[]string{"reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ponte_ngsild_notifications_dropped_total",
			Help: "Notifications given up, by reason: queue_full (the oldest of a full queue), bytes (the oldest over a byte budget), attempts (every attempt failed), expired, deleted, refused (endpoint not allowed), encode (not encodable)."},
			[]string{"reason"}),
	}
	for _, r := range []string{failStatus, failTransport, failRefused} {
		m.failed.WithLabelValues(r)
	}
	for _, r := range []string{dropQueueFull, dropAttempts, dropExpired, dropDeleted, dropRefused, dropBytes, dropEncode} {
		m.dropped.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.subscriptions, m.queued, m.queuedBytes, m.sent, m.failed, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("subs: register metrics (one Manager per registry): %w", err)
		}
	}
	return m, nil
}
