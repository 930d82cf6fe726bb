package twin

import (
	"maps"
	"slices"
	"strings"
	"sync"
)

// Scope is the part of the twin one reader may see: all of it (an
// operator of the whole platform, the zero Scope's opposite, AllScope), or
// the entities of some tenants (an operator of one municipality). Make one
// with AllScope or Twin.Scope; the zero Scope sees nothing. A Scope is
// immutable and safe for concurrent use.
type Scope struct {
	all     bool
	tenants []string // sorted
	// gateways are the tenants' gateways by ID, prefixes their ID
	// prefixes; a site or gateway entity is visible when its gateway is.
	gateways map[string]bool
	prefixes []string
	// assigned are the gateways the enrolment registry put in a tenant
	// (Twin.SetGatewayTenant), shared with the twin, which updates it.
	assigned *assignments
	// areas are the IDs of the tenants' areas (their municipalities and the
	// districts inside them) and of the roads in them.
	areas map[string]bool
}

// AllScope is the scope of a reader who sees the whole twin.
func AllScope() Scope { return Scope{all: true} }

// All says whether s sees the whole twin.
func (s Scope) All() bool { return s.all }

// Tenants returns the IDs of the tenants s sees, sorted; nil for AllScope.
func (s Scope) Tenants() []string { return slices.Clone(s.tenants) }

// Key names s in one string: "*" for AllScope, else its tenants joined
// by commas. Two scopes with the same key see the same entities.
func (s Scope) Key() string {
	if s.all {
		return "*"
	}
	return strings.Join(s.tenants, ",")
}

// Name names s in messages: "the platform's scope" for AllScope, else
// "tenant ID" or "tenants ID,ID".
func (s Scope) Name() string {
	switch {
	case s.all:
		return "the platform's scope"
	case len(s.tenants) == 1:
		return "tenant " + s.tenants[0]
	}
	return "tenants " + strings.Join(s.tenants, ",")
}

// Gateway says whether s sees the gateway with this ID (and so its sites).
func (s Scope) Gateway(id string) bool {
	if s.all {
		return true
	}
	if s.gateways[id] {
		return true
	}
	for _, p := range s.prefixes {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	if t := s.assigned.get(id); t != "" {
		_, ok := slices.BinarySearch(s.tenants, t)
		return ok
	}
	return false
}

// assignments are gateways' tenants as the enrolment registry recorded
// them. A nil *assignments holds none. Safe for concurrent use.
type assignments struct {
	mu sync.RWMutex
	m  map[string]string // gateway -> tenant
}

// get returns the tenant gateway was assigned to, "" for none.
func (a *assignments) get(gateway string) string {
	if a == nil {
		return ""
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.m[gateway]
}

// all returns a copy of the assignments.
func (a *assignments) all() map[string]string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return maps.Clone(a.m)
}

// set assigns gateway to tenant ("" removes it).
func (a *assignments) set(gateway, tenant string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if tenant == "" {
		delete(a.m, gateway)
		return
	}
	a.m[gateway] = tenant
}

// Visible says whether s sees e: a site or a gateway by its gateway, an
// area or a road by the tenants' areas.
func (s Scope) Visible(e *Entity) bool {
	if s.all {
		return true
	}
	switch e.Kind {
	case KindSite, KindGateway:
		return s.Gateway(e.Gateway)
	default:
		return s.areas[e.ID]
	}
}
