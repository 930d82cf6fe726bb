package service

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/wire"
)

// lastSeenName is the per-gateway last-seen gauge: alert rules compare it
// with time() to tell a gateway that went quiet (deploy/prometheus).
const lastSeenName = "ponte_ingest_gateway_last_seen_timestamp_seconds"

func newLastSeen() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: lastSeenName,
		Help: "When ingest last received a batch (valid or not) or a status message from the gateway, in Unix seconds. Only gateways the configuration lists (or, without a list, that the broker or HTTP credentials vouched for) have a series."},
		[]string{"gateway"})
}

// seen records that gateway just spoke to ingest. Its label is bounded as
// the dead letters' (gatewayLabel); an ID outside the configuration's list
// gets no series, since a last-seen time shared by every unknown ID tells
// nothing.
func (s *Service) seen(gateway string) {
	if l := s.gatewayLabel(gateway); l != otherGateway {
		s.m.lastSeen.WithLabelValues(l).Set(float64(s.cfg.Now().UnixNano()) / 1e9)
	}
}

// StatusSeen records a gateway's status message (online, offline by its
// last will, or a periodic one) in its last-seen time.
func (s *Service) StatusSeen(st wire.Status) { s.seen(st.Gateway) }
