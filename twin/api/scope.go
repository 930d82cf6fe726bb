package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/ponte-city/ponte/twin"
)

// scopeKey is the request context's key of the caller's twin.Scope.
type scopeKey struct{}

// withScope returns r carrying s as its caller's scope.
func withScope(r *http.Request, s twin.Scope) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), scopeKey{}, s))
}

// scopeOf returns the scope the operator check gave r: what its caller may
// see. A request that did not pass the check sees nothing.
func scopeOf(r *http.Request) twin.Scope {
	s, _ := r.Context().Value(scopeKey{}).(twin.Scope)
	return s
}

// TenantHeader is NGSI-LD's tenant header (clause 6.3.14).
const TenantHeader = "NGSILD-Tenant"

// tenantScope is the scope of r narrowed by its NGSILD-Tenant header: the
// caller's whole scope without one, one of its tenants with one. A tenant
// the caller cannot see is answered as one that does not exist.
func (a *API) tenantScope(r *http.Request) (twin.Scope, error) {
	s := scopeOf(r)
	t := r.Header.Get(TenantHeader)
	if t == "" {
		return s, nil
	}
	if !s.All() && !slices.Contains(s.Tenants(), t) {
		return twin.Scope{}, fmt.Errorf("%s: no tenant %q", TenantHeader, t)
	}
	return s, fmt.Errorf("%s: no tenant %q (no tenants are configured)", TenantHeader, t)
}
