package app

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/alarms"
)

// alarmsFile is the alarms' state file in ingest's state dir.
const alarmsFile = "alarms.json"

// buildAlarms makes the twin's alarm engine from the configuration
// (twin.alarms; the shipped rules without it), keeping its alarms in the
// state dir, or with twin.replica in the cluster's shared store.
func buildAlarms(cfg *config.Config, tw *twin.Twin, shared alarms.Shared, log *slog.Logger, reg prometheus.Registerer) (*alarms.Engine, error) {
	maxOpen, maxClosed := cfg.AlarmLimits()
	state := filepath.Join(cfg.StateDir, alarmsFile)
	if shared != nil {
		state = ""
	}
	e, err := alarms.New(alarms.Config{Reader: tw, Rules: cfg.AlarmRules(), StateFile: state, Shared: shared,
		MaxOpen: maxOpen, MaxClosed: maxClosed, Logger: log.With("component", "alarms"), Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("ingest: alarms: %w", err)
	}
	return e, nil
}
