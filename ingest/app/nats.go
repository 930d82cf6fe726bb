package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/intake"
	"github.com/ponte-city/ponte/wire"
)

// uplink is the intake of gateways' batches from a broker: the MQTT
// intake (embedded broker or Mosquitto) or the JetStream intake (a NATS
// cluster, broker.nats).
type uplink interface {
	Run(ctx context.Context) error
	Connected() bool
}

// natsUplink returns the JetStream intake of cfg.Broker.NATS, and the
// cluster's URLs for Addrs.BrokerURL. With commands (cmds not nil) the
// intake hands it every gateway's reports and publishes its commands
// (intake/jscommands.go says how they travel through the cluster).
func natsUplink(cfg *config.Config, svc intake.Submitter, onStatus func(wire.Status), cmds *commands, log *slog.Logger, reg prometheus.Registerer) (uplink, string, error) {
	n := cfg.Broker.NATS
	tlsCfg, err := n.TLSConfig()
	if err != nil {
		return nil, "", fmt.Errorf("ingest: broker.nats.tls: %w", err)
	}
	js, err := intake.NewJetStream(intake.JetStreamConfig{URLs: n.URLs, Stream: n.Stream, Consumer: n.Consumer,
		Replicas: n.Replicas, AckWait: n.AckWait.D(), MaxAckPending: n.MaxAckPending, AckStored: n.AckQoS == 1, MaxAge: n.MaxAge.D(), MaxBytes: n.MaxBytes,
		User: n.User, Password: n.Password, Token: n.Token, Credentials: n.Credentials, TLS: tlsCfg,
		Name: cfg.Broker.ClientID, Topics: cfg.Topics(), OnStatus: onStatus, OnReport: cmds.onReport(), Logger: log.With("component", "jetstream"), Registerer: reg}, svc)
	if err != nil {
		return nil, "", fmt.Errorf("ingest: broker.nats: %w", err)
	}
	cmds.attach(js.Publish)
	return js, strings.Join(n.URLs, ","), nil
}
