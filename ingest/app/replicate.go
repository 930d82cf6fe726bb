package app

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/replica"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/twin"
)

// replicaSetup bounds connecting to NATS, making the stream and loading
// the twin's snapshot at start.
const replicaSetup = time.Minute

// openReplica opens the applied stream of twin.replica and restores tw
// from its snapshot, before tw serves anyone; nil without the section.
func openReplica(ctx context.Context, cfg *config.Config, tw *twin.Twin, log *slog.Logger, reg prometheus.Registerer) (*replica.Replica, error) {
	if cfg.Twin == nil || cfg.Twin.Replica == nil {
		return nil, nil
	}
	rc := cfg.Twin.Replica
	ctx, cancel := context.WithTimeout(ctx, replicaSetup)
	defer cancel()
	rep, err := replica.Open(ctx, replica.Config{URLs: strings.Join(rc.URLs, ","), Stream: rc.Stream, Bucket: rc.Bucket,
		Replicas: rc.Replicas, MaxAge: rc.MaxAge.D(), MaxBytes: rc.MaxBytes, SnapshotInterval: rc.SnapshotInterval.D(),
		Window: cfg.Twin.IndicatorWindow.D(), Name: "ponte-ingest " + cfg.Broker.ClientID, Options: rc.Options(), Logger: log, Registerer: reg})
	if err != nil {
		return nil, err
	}
	if err := rep.Restore(ctx, tw); err != nil {
		rep.Close()
		return nil, err
	}
	return rep, nil
}

// twinApplier is what the service hands newly written batches to: the
// applied stream when replicated (the twin follows it), else the twin.
func twinApplier(tw *twin.Twin, rep *replica.Replica) service.Applier {
	if rep != nil {
		return rep
	}
	return tw
}

// openAlarms opens the alarms' shared store on the replica's connection:
// with twin.replica, the alarms and their acknowledgements live in the
// cluster, evaluated by one instance at a time (see ingest/replica).
func openAlarms(ctx context.Context, rep *replica.Replica) (*replica.Alarms, error) {
	ctx, cancel := context.WithTimeout(ctx, replicaSetup)
	defer cancel()
	return rep.OpenAlarms(ctx, replica.AlarmsConfig{})
}
