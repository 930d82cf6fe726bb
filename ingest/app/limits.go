package app

import (
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/enrol"
	"github.com/ponte-city/ponte/twin/ngsild/subs"
)

// Tenants' shares of the pools they share (issue 15, M1). A pool shared
// by tenants that do not trust each other gives each a share; where its
// global cap is not configured, ingest raises it to at least
// (tenants+1) times a share, so that the tenants together cannot fill it
// and lock out the platform (the +1). A configured cap is taken as
// given.

// atLeastShares returns configured if set, else the larger of def and
// (tenants+1)*share.
func atLeastShares(configured, def, share, tenants int) int {
	if configured != 0 {
		return configured
	}
	return max(def, (tenants+1)*share)
}

// enrolLimits sets the registry's caps and tenants' shares from e.
func enrolLimits(ec *enrol.Config, e *config.Enrolment, tenants int) {
	tokShare := e.MaxPendingTokensPerTenant
	if tokShare == 0 {
		tokShare = enrol.DefaultMaxPendingTokensPerTenant
	}
	gwShare := e.MaxGatewaysPerTenant
	if gwShare == 0 {
		gwShare = enrol.DefaultMaxGatewaysPerTenant
	}
	ec.MaxPendingTokensPerTenant, ec.MaxGatewaysPerTenant = tokShare, gwShare
	ec.MaxPendingTokens = atLeastShares(e.MaxPendingTokens, enrol.DefaultMaxPendingTokens, tokShare, tenants)
	ec.MaxGateways = atLeastShares(e.MaxGateways, enrol.DefaultMaxGateways, gwShare, tenants)
}

// maxSubscriptions is the NGSI-LD subscriptions' global cap: as
// configured, else room for every tenant's and the platform's share
// (max_per_scope), and at least subs.DefaultMaxSubscriptions.
func maxSubscriptions(s *config.NGSILDSubscriptions, tenants int) int {
	share := s.MaxPerScope
	if share == 0 {
		share = subs.DefaultMaxPerScope
	}
	return atLeastShares(s.MaxSubscriptions, subs.DefaultMaxSubscriptions, share, tenants)
}
