package agent

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/edge/forward"
	"github.com/ponte-city/ponte/ingest/wire"
)

// uplink is what the agent needs of the forwarder.
type uplink interface {
	Run(ctx context.Context) error
	status() UplinkStatus
}

// forwarder adapts *forward.Forwarder to uplink.
type forwarder struct{ *forward.Forwarder }

func (f forwarder) status() UplinkStatus {
	s := f.Status()
	u := UplinkStatus{Connected: s.Connected, AckedSeq: s.AckedSeq, SentSeq: s.SentSeq, InFlight: s.InFlight, LastError: s.LastError}
	if !s.LastAck.IsZero() {
		t := s.LastAck.UTC()
		u.LastAck = &t
	}
	return u
}

// uplinkConfig builds the forwarder's configuration from the site's
// uplink section, loading the TLS files, and checks it.
func uplinkConfig(s *Site, reg prometheus.Registerer, version string, log *slog.Logger) (forward.Config, error) {
	u := s.Uplink
	cfg := forward.Config{
		Gateway: s.Gateway.ID, Broker: u.Broker, ClientID: u.ClientID, Username: u.Username, Password: u.Secret(),
		Topics:           wire.Topics{Prefix: u.TopicPrefix},
		BatchMaxReadings: u.BatchMaxReadings, BatchMaxBytes: int(u.BatchMaxBytes), BatchMaxWait: u.BatchMaxWait.D(),
		Window: u.Window, AckTimeout: u.AckTimeout.D(), ReplayRate: u.ReplayRate,
		BackoffBase: u.BackoffBase.D(), BackoffMax: u.BackoffMax.D(),
		Version: version, Logger: log, Registerer: reg,
	}
	if t := u.TLS; t != nil {
		tc, err := forward.LoadTLS(t.CA, t.Cert, t.Key)
		if err != nil {
			return cfg, fmt.Errorf("%s: uplink.tls: %w", s.File, err)
		}
		cfg.TLS = tc
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%s: uplink: %w", s.File, err)
	}
	return cfg, nil
}

// newUplink creates the forwarder of buf.
func newUplink(s *Site, buf *buffer.Buffer, version string, log *slog.Logger, reg prometheus.Registerer) (uplink, error) {
	cfg, err := uplinkConfig(s, reg, version, log)
	if err != nil {
		return nil, err
	}
	f, err := forward.New(cfg, buf)
	if err != nil {
		return nil, fmt.Errorf("create uplink: %w", err)
	}
	return forwarder{f}, nil
}
