package enrol

import (
	"net/http"
	"time"
)

// Tenants' shares. Tenants (one per municipality) share one registry but
// do not trust each other: the global caps (MaxPendingTokens,
// MaxGateways) bound what the registry holds, and each tenant has a share
// of them, so that one tenant's operator who issues tokens or enrols
// gateways up to a cap locks out neither the other tenants nor the
// platform. A tenant's tokens and gateways count against its share and
// the global cap; the platform's (no tenant) against the global cap only.
// Ingest sets the global caps, when its configuration leaves them out, to
// at least (tenants+1) times the shares (ingest/app), so the tenants
// together cannot fill them either.
//
// Like the global caps, the shares are checked against this instance's
// view: with a bucket, instances acting at the same moment may each pass
// them by one.

// Default shares of one tenant.
const (
	DefaultMaxPendingTokensPerTenant = 100
	DefaultMaxGatewaysPerTenant      = 2000
)

// tenantLimits sets the shares' defaults, never above the global caps.
func (c *Config) tenantLimits() {
	if c.MaxPendingTokensPerTenant == 0 {
		c.MaxPendingTokensPerTenant = min(DefaultMaxPendingTokensPerTenant, c.MaxPendingTokens)
	}
	if c.MaxGatewaysPerTenant == 0 {
		c.MaxGatewaysPerTenant = min(DefaultMaxGatewaysPerTenant, c.MaxGateways)
	}
}

// tenantTokenCap refuses a token of tenant (none: no share) when the
// tenant's pending tokens reached its share.
func (r *Registry) tenantTokenCap(tenant string, now time.Time) error {
	if tenant == "" {
		return nil
	}
	n := 0
	r.mu.Lock()
	for _, t := range r.st.Tokens {
		if t.Scope.Tenant == tenant && t.Used == nil && now.Before(t.Expires) {
			n++
		}
	}
	r.mu.Unlock()
	if n >= r.cfg.MaxPendingTokensPerTenant {
		return refuse(http.StatusTooManyRequests, "enrolment token: tenant %s has %d tokens waiting to be used, its limit (enrolment.max_pending_tokens_per_tenant); revoke some (ponte-ctl enrolment token-revoke ID) or let them expire first",
			tenant, n)
	}
	return nil
}

// tenantGatewayShare refuses a gateway new to tenant when the tenant
// holds its share of gateways (name is the site config's file).
func (r *Registry) tenantGatewayShare(tenant, name string) error {
	n := 0
	r.mu.Lock()
	for _, g := range r.st.Gateways {
		if g.Tenant == tenant {
			n++
		}
	}
	r.mu.Unlock()
	if n >= r.cfg.MaxGatewaysPerTenant {
		return refuse(http.StatusTooManyRequests, "%s: gateway.id: tenant %s holds %d gateways, its limit (enrolment.max_gateways_per_tenant); revoked gateways count until they enrol again",
			name, tenant, n)
	}
	return nil
}
