package app

import (
	"fmt"

	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/api"
)

// publicAPI turns the twin's public settings into the API's.
func publicAPI(p *config.TwinPublic) api.Public {
	out := api.Public{Language: p.Lang(), TimeZone: p.Zone(), TrustedProxies: p.TrustedProxies()}
	if l := p.Licence; l != nil {
		out.Licence = api.Licence{Name: l.Name, URL: l.URL, Attribution: l.Attribution}
	}
	return out
}

// apiTenants returns the configured tenants as the API serves them, each
// with its scope in tw.
func apiTenants(cfg *config.Config, tw *twin.Twin) ([]api.Tenant, error) {
	out := make([]api.Tenant, 0, len(cfg.Tenants))
	for _, t := range cfg.Tenants {
		scope, err := tw.Scope(t.ID)
		if err != nil {
			return nil, fmt.Errorf("ingest: tenant %s: %w", t.ID, err)
		}
		at := api.Tenant{ID: t.ID, Name: t.Name, Tokens: t.Tokens, Scope: scope}
		if l := t.Licence; l != nil {
			at.Licence = api.Licence{Name: l.Name, URL: l.URL, Attribution: l.Attribution}
		}
		out = append(out, at)
	}
	return out, nil
}
