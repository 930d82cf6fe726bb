package agent

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/edge/command"
	"github.com/ponte-city/ponte/edge/uplink"
	"github.com/ponte-city/ponte/wire"
)

// uplinker is what the agent needs of the uplink.
type uplinker interface {
	Run(ctx context.Context) error
	status() UplinkStatus
}

// forwarder adapts *uplink.Forwarder to uplinker.
type forwarder struct{ *uplink.Forwarder }

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
func uplinkConfig(s *Site, reg prometheus.Registerer, version string, log *slog.Logger) (uplink.Config, error) {
	u := s.Uplink
	cfg := uplink.Config{
		Gateway: s.Gateway.ID, Broker: u.Broker, ClientID: u.ClientID, Username: u.Username, Password: u.Secret(), PasswordFile: u.PasswordFile,
		Topics:           wire.Topics{Prefix: u.TopicPrefix},
		BatchMaxReadings: u.BatchMaxReadings, BatchMaxBytes: int(u.BatchMaxBytes), BatchMaxWait: u.BatchMaxWait.D(),
		Window: u.Window, ReplayWindow: u.ReplayWindow, AckTimeout: u.AckTimeout.D(), AckQoS0: u.AckQoS != nil && *u.AckQoS == 0, ReplayRate: u.ReplayRate,
		BackoffBase: u.BackoffBase.D(), BackoffMax: u.BackoffMax.D(), StatusInterval: u.StatusInterval.D(),
		Version: version, Logger: log, Registerer: reg,
	}
	if t := u.TLS; t != nil {
		tc, err := uplink.LoadTLS(t.CA, t.Cert, t.Key)
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

// newUplink creates the forwarder of buf; rec receives ingest's
// acknowledgements (the refused readings they report) and counts the
// devices up and bad for the status message; cmds receives the commands
// and republishes its reports at each connection.
func newUplink(s *Site, buf *buffer.Buffer, version string, log *slog.Logger, reg prometheus.Registerer, rec *recorder, cmds *command.Executor) (*uplink.Forwarder, error) {
	cfg, err := uplinkConfig(s, reg, version, log)
	if err != nil {
		return nil, err
	}
	cfg.OnAck = rec.acked
	cfg.Devices = rec.deviceCounts
	cfg.OnCommand, cfg.OnConnect = cmds.Handle, cmds.Republish
	f, err := uplink.New(cfg, buf)
	if err != nil {
		return nil, fmt.Errorf("create uplink: %w", err)
	}
	return f, nil
}
