package app

import (
	"github.com/ponte-city/ponte/ingest/config"
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
