package app

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/geo"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/wire"
	"github.com/ponte-city/ponte/twin"
)

// buildTwin loads the twin's layers and sites from the configuration.
func buildTwin(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (*twin.Twin, error) {
	areaPaths, roadsPath, sitePaths, profiles := cfg.TwinPaths()
	idProp := cfg.Twin.AreaID
	if idProp == "" {
		idProp = "com_istat_code"
	}
	var layers []*geo.Layer
	for _, p := range areaPaths {
		l, err := geo.LoadLayer(p, geo.KindAreas, geo.LoadOptions{IDProperty: idProp})
		if err != nil {
			return nil, fmt.Errorf("ingest: twin areas: %w", err)
		}
		layers = append(layers, l)
	}
	areas, err := geo.Merge("areas", layers...)
	if err != nil {
		return nil, fmt.Errorf("ingest: twin areas: %w", err)
	}
	var roads *geo.Layer
	if roadsPath != "" {
		if roads, err = geo.LoadLayer(roadsPath, geo.KindRoads, geo.LoadOptions{}); err != nil {
			return nil, fmt.Errorf("ingest: twin roads: %w", err)
		}
	}
	var sites []twin.Site
	if len(sitePaths) > 0 {
		if sites, err = twin.SitesFromConfigs(sitePaths, profiles); err != nil {
			return nil, fmt.Errorf("ingest: twin sites: %w", err)
		}
	}
	return twin.New(twin.Config{
		Areas: areas, Roads: roads, Sites: sites,
		StaleFactor: cfg.Twin.StaleFactor, RoadMaxMetres: cfg.Twin.RoadMaxMetres,
		IndicatorWindow: cfg.Twin.IndicatorWindow.D(),
		Logger:          log.With("component", "twin"), Registerer: reg,
	})
}

// statusTo returns the MQTT intake's status callback for tw (nil without a
// twin).
func statusTo(tw *twin.Twin) func(wire.Status) {
	if tw == nil {
		return nil
	}
	return func(st wire.Status) { tw.SetGatewayState(st.Gateway, st.State == wire.StateOnline, st.Time) }
}
