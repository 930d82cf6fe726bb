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
// caller's whole scope without one, one tenant with one. A tenant the
// caller cannot see is answered as one that does not exist (errNoTenant).
func (a *API) tenantScope(r *http.Request) (twin.Scope, error) {
	s := scopeOf(r)
	id := r.Header.Get(TenantHeader)
	if id == "" {
		return s, nil
	}
	tn, ok := a.tenants[id]
	if !ok || !s.All() && !slices.Contains(s.Tenants(), id) {
		return twin.Scope{}, fmt.Errorf("%s %q: %w", TenantHeader, id, errNoTenant)
	}
	return tn.Scope, nil
}

// scoped returns the twin as r's caller sees it: the entities of its scope
// only, an entity out of it as one that does not exist.
func (a *API) scoped(r *http.Request) scopedReader {
	return scopedReader{a.reader, scopeOf(r)}
}

// scopedReader is a twin.Reader's entities as one scope sees them.
type scopedReader struct {
	r     twin.Reader
	scope twin.Scope
}

// Entities returns the entities f selects that the scope sees.
func (s scopedReader) Entities(f twin.Filter) []twin.Entity {
	es := s.r.Entities(f)
	if s.scope.All() {
		return es
	}
	return slices.DeleteFunc(es, func(e twin.Entity) bool { return !s.scope.Visible(&e) })
}

// Entity returns the entity id if the scope sees it.
func (s scopedReader) Entity(id string) (twin.Entity, bool) {
	e, ok := s.r.Entity(id)
	if !ok || !s.scope.Visible(&e) {
		return twin.Entity{}, false
	}
	return e, true
}

// ScopeOf returns what the caller of r may see of the twin, as the
// operator check found it (for handlers mounted behind it, such as the
// alarms'): nothing for a request that did not pass the check.
func ScopeOf(r *http.Request) twin.Scope { return scopeOf(r) }

// The scopes of the API's routes, as each operation's x-ponte-scope in
// the OpenAPI document says.
const (
	// ScopePublic: anyone may call it and gets the same answer.
	ScopePublic = "public"
	// ScopeTenant: an operator token is required, and the answer holds
	// only what the token's tenants see (all of it for twin.tokens).
	ScopeTenant = "tenant"
)

// publicRoutes are the routes anyone may call.
var publicRoutes = []string{
	"GET /api/v1/indicators",
	"GET /api/v1/indicators.csv",
	"GET /api/v1/indicators/history",
	"GET /api/v1/areas.geojson",
	"GET /api/v1/sites.geojson",
	"GET /api/v1/config",
	"GET /api/v1/openapi.json",
	"GET /ngsi-ld/v1/contexts/ponte.jsonld",
}

// Routes returns the API's routes as "METHOD /path" patterns.
func Routes() []string { return routes() }

// RouteScope returns the scope of one of Routes.
func RouteScope(route string) string {
	if slices.Contains(publicRoutes, route) {
		return ScopePublic
	}
	return ScopeTenant
}

// Operator wraps h in the operator check of the API's own routes (token
// throttling, the token's scope in the request: ScopeOf), for routes
// served beside the API, such as the enrolment registry's.
func (a *API) Operator(h http.Handler) http.Handler { return a.operator(h.ServeHTTP) }
