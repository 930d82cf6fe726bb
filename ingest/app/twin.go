package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/geo"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/internal/site"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/api"
	"github.com/ponte-city/ponte/twin/web"
	"github.com/ponte-city/ponte/wire"
)

// The twin is the pipeline's applier.
var _ service.Applier = (*twin.Twin)(nil)

// buildTwin loads the twin's layers and sites from the configuration.
func buildTwin(cfg *config.Config, inv *site.Inventory, log *slog.Logger, reg prometheus.Registerer) (*twin.Twin, error) {
	_, roadsPath := cfg.TwinPaths()
	areas, levels, err := twin.LoadAreas(cfg.TwinAreaLayers())
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	var roads *geo.Layer
	if roadsPath != "" {
		if roads, err = geo.LoadLayer(roadsPath, geo.KindRoads, geo.LoadOptions{}); err != nil {
			return nil, fmt.Errorf("ingest: twin roads: %w", err)
		}
	}
	return twin.New(twin.Config{
		Areas: areas, AreaLevels: levels, Roads: roads, Sites: twin.SitesFromInventory(inv),
		StaleFactor: cfg.Twin.StaleFactor, RoadMaxMetres: cfg.Twin.RoadMaxMetres,
		IndicatorWindow: cfg.Twin.IndicatorWindow.D(), Tenants: cfg.TwinTenants(),
		Logger: log.With("component", "twin"), Registerer: reg,
	})
}

// statusTo returns the MQTT intake's status callback for tw (nil without a
// twin).
func statusTo(tw *twin.Twin) func(wire.Status) {
	if tw == nil {
		return nil
	}
	return tw.SetGatewayStatus
}

// mountTwin serves the twin's API (with the alarms' routes, alarmsH, the
// NGSI-LD subscriptions', subsH, and the commands', commandsH, nil
// without), the operators' map and
// the public indicators page on mux, and returns the API.
func mountTwin(mux *http.ServeMux, cfg *config.Config, tw *twin.Twin, alarmsH, subsH, commandsH http.Handler, log *slog.Logger, reg prometheus.Registerer) (*api.API, error) {
	hist, err := api.NewInfluxHistory(cfg.Influx.URL, cfg.Influx.Token, cfg.Influx.Org, cfg.Influx.Bucket, cfg.Influx.Measurement)
	if err != nil {
		return nil, fmt.Errorf("ingest: twin history: %w", err)
	}
	pub := &cfg.Twin.Public
	rate, burst := pub.PublicRate()
	tenants, err := apiTenants(cfg, tw)
	if err != nil {
		return nil, err
	}
	temporal := cfg.NGSILDTemporal()
	a, err := api.New(api.Config{Reader: tw, Tokens: cfg.Twin.Tokens, Tenants: tenants, History: hist, Alarms: alarmsH, Subscriptions: subsH, Commands: commandsH,
		Temporal:  api.TemporalLimits{MaxInstances: temporal.MaxInstances, MaxQueries: temporal.MaxQueries},
		AuthBurst: cfg.HTTP.AuthBurst, AuthRefill: cfg.HTTP.AuthRefill.D(),
		PublicRate: rate, PublicBurst: burst, Public: publicAPI(pub),
		Logger: log.With("component", "twin-api"), Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("ingest: twin api: %w", err)
	}
	mux.Handle("/api/v1/", a.Handler())
	mux.Handle("/ngsi-ld/", a.Handler())
	pages := web.Handler()
	mux.Handle("/map/", pages)
	mux.Handle("/indicators/", pages)
	// Each tenant's public page and API, under its name and licence.
	tenantsH, err := a.TenantHandler(pages)
	if err != nil {
		return nil, fmt.Errorf("ingest: tenants' public API: %w", err)
	}
	mux.Handle("/t/", tenantsH)
	// /map leads to the map with the configured base map, if any; the
	// page reads it from its query.
	mux.HandleFunc("GET /map", func(w http.ResponseWriter, r *http.Request) {
		target := "/map/"
		if cfg.Twin.TileURL != "" {
			q := url.Values{"tiles": {cfg.Twin.TileURL}}
			if cfg.Twin.TileAttribution != "" {
				q.Set("tilesAttribution", cfg.Twin.TileAttribution)
			}
			target += "?" + q.Encode()
		}
		http.Redirect(w, r, target, http.StatusFound)
	})
	mux.Handle("GET /{$}", http.RedirectHandler("/indicators/", http.StatusFound))
	return a, nil
}
