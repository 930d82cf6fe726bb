package app

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/opendata"
)

// mountOpenData serves the open data on mux: the platform's at
// /opendata/ (every area), and each tenant's with an opendata block at
// /t/{id}/opendata/ (its areas only, through its scope; the more specific
// pattern wins over the tenants' /t/). It returns the recorders of the
// daily files, one per scope, for the caller to run. Where nothing is
// configured the routes answer 404 saying what to configure.
func mountOpenData(mux *http.ServeMux, cfg *config.Config, tw *twin.Twin, log *slog.Logger, reg prometheus.Registerer) ([]*opendata.Recorder, error) {
	if !cfg.OpenDataPublished() {
		mux.Handle("/opendata/", notPublished("open data are not published: add an opendata section to ingest's configuration (base_url, title, description, publisher, contact)"))
		for _, t := range cfg.Tenants {
			mux.Handle("/t/"+t.ID+"/opendata/", notPublished("open data are not published: add an opendata section to ingest's configuration, and an opendata block (publisher, contact) to tenant "+t.ID))
		}
		return nil, nil
	}
	m, err := opendata.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("ingest: open data: %w", err)
	}
	log = log.With("component", "opendata")
	var recs []*opendata.Recorder
	publish := func(prefix, scope string, areas func(string) bool, cat opendata.CatalogConfig) error {
		rc := cfg.OpenDataRecorder(scope)
		rc.Areas, rc.Metrics = areas, m
		rec, err := opendata.NewRecorder(rc, tw, log)
		if err != nil {
			return fmt.Errorf("ingest: open data of %s: %w", scope, err)
		}
		h, err := opendata.NewHandler(opendata.HandlerConfig{Catalog: cat, Dir: rc.Dir, Scope: scope, Areas: areas}, tw, nil)
		if err != nil {
			return fmt.Errorf("ingest: open data of %s: %w", scope, err)
		}
		mux.Handle(prefix+"/opendata/", http.StripPrefix(prefix+"/opendata", h))
		recs = append(recs, rec)
		return nil
	}
	cat, _ := cfg.OpenDataCatalog("")
	if err := publish("", twin.ReservedTenantID, nil, cat); err != nil {
		return nil, err
	}
	for _, t := range cfg.Tenants {
		cat, ok := cfg.OpenDataCatalog(t.ID)
		if !ok {
			mux.Handle("/t/"+t.ID+"/opendata/", notPublished("tenant "+t.ID+" publishes no open data: give it an opendata block (publisher with its ipa_code, contact) in ingest's configuration"))
			continue
		}
		scope, err := tw.Scope(t.ID)
		if err != nil {
			return nil, fmt.Errorf("ingest: open data of tenant %s: %w", t.ID, err)
		}
		areas := func(id string) bool { return scope.Visible(&twin.Entity{ID: id, Kind: twin.KindArea}) }
		if err := publish("/t/"+t.ID, t.ID, areas, cat); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// notPublished answers 404 with why.
func notPublished(why string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, why, http.StatusNotFound)
	})
}
