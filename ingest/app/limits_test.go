package app

import (
	"testing"

	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/enrol"
	"github.com/ponte-city/ponte/twin/ngsild/subs"
)

// TestSharesFitTheGlobalCaps: left out, a global cap holds every
// tenant's share and the platform's; configured, it is kept.
func TestSharesFitTheGlobalCaps(t *testing.T) {
	for _, tc := range []struct {
		name              string
		e                 config.Enrolment
		tenants           int
		tokens, gws       int
		tokShare, gwShare int
	}{
		{"no tenants: the defaults", config.Enrolment{}, 0, enrol.DefaultMaxPendingTokens, enrol.DefaultMaxGateways, 100, 2000},
		{"41 municipalities", config.Enrolment{}, 41, 42 * 100, 42 * 2000, 100, 2000},
		{"configured shares", config.Enrolment{MaxPendingTokensPerTenant: 50, MaxGatewaysPerTenant: 10}, 41, 42 * 50, enrol.DefaultMaxGateways, 50, 10},
		{"configured caps kept", config.Enrolment{MaxPendingTokens: 300, MaxGateways: 500}, 41, 300, 500, 100, 2000},
	} {
		var ec enrol.Config
		enrolLimits(&ec, &tc.e, tc.tenants)
		if ec.MaxPendingTokens != tc.tokens || ec.MaxGateways != tc.gws || ec.MaxPendingTokensPerTenant != tc.tokShare || ec.MaxGatewaysPerTenant != tc.gwShare {
			t.Errorf("%s: tokens %d/%d gateways %d/%d, want %d/%d and %d/%d", tc.name, ec.MaxPendingTokens, ec.MaxPendingTokensPerTenant,
				ec.MaxGateways, ec.MaxGatewaysPerTenant, tc.tokens, tc.tokShare, tc.gws, tc.gwShare)
		}
	}
	if got := maxSubscriptions(&config.NGSILDSubscriptions{}, 41); got != 42*subs.DefaultMaxPerScope {
		t.Errorf("subscriptions for 41 tenants: %d, want %d", got, 42*subs.DefaultMaxPerScope)
	}
	if got := maxSubscriptions(&config.NGSILDSubscriptions{MaxPerScope: 5}, 3); got != subs.DefaultMaxSubscriptions {
		t.Errorf("subscriptions for 3 tenants of 5: %d, want the default %d", got, subs.DefaultMaxSubscriptions)
	}
	if got := maxSubscriptions(&config.NGSILDSubscriptions{MaxSubscriptions: 200}, 41); got != 200 {
		t.Errorf("configured subscriptions: %d, want 200", got)
	}
}
