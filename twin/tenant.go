package twin

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// Tenant is one organisation sharing the platform, usually a municipality
// of a metropolitan area: its areas and its gateways. A reader scoped to
// it (Twin.Scope) sees its gateways and their sites, its areas and the
// areas and roads inside them, and nothing else.
type Tenant struct {
	// ID names the tenant in URLs (/t/{id}/...) and in NGSILD-Tenant:
	// lower-case letters, digits and '-', at most 63.
	ID string
	// Name is the tenant's name as people read it ("Comune di Bitonto").
	Name string
	// Areas are the tenant's areas, by area ID or name, at any level
	// (usually its municipality). Areas of finer levels and roads whose
	// representative point lies inside one of them are the tenant's too.
	Areas []string
	// Gateways are the tenant's gateways by ID; GatewayPrefixes claim
	// every gateway whose ID starts with one of them (e.g. "ba-bitonto-"),
	// so gateways enrolled later under that prefix are the tenant's. A
	// gateway belongs to at most one tenant.
	Gateways        []string
	GatewayPrefixes []string
}

// tenantIDPattern is the syntax of Tenant.ID.
var tenantIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ReservedTenantID is no tenant's ID: it names the whole platform where a
// tenant's ID would go (its open data's folder).
const ReservedTenantID = "all"

// ValidTenantID says whether s is a well-formed tenant ID.
func ValidTenantID(s string) bool { return tenantIDPattern.MatchString(s) }

// TenantError is one problem of Config.Tenants: the tenant's index, the
// field (id, name, areas, gateways, gateway_prefixes) and what is wrong.
type TenantError struct {
	Index   int
	Field   string
	Problem string
}

// TenantErrors checks tenants on their own: IDs, names, and that no
// gateway is claimed twice. Whether the areas exist is checked by New,
// which has the layers.
func TenantErrors(tenants []Tenant) []TenantError {
	var errs []TenantError
	bad := func(i int, field, format string, args ...any) {
		errs = append(errs, TenantError{i, field, fmt.Sprintf(format, args...)})
	}
	ids := map[string]int{}
	byID := map[string]int{}
	type prefix struct {
		tenant int
		p      string
	}
	var prefixes []prefix
	for i, tn := range tenants {
		if tn.ID == ReservedTenantID {
			bad(i, "id", "%q is reserved (the platform's own open data is kept under it)", tn.ID)
		}
		if !ValidTenantID(tn.ID) {
			bad(i, "id", "%q: expected lower-case letters, digits and '-' (at most 63, not starting with '-')", tn.ID)
		}
		if j, dup := ids[tn.ID]; dup {
			bad(i, "id", "%q is also tenant %d's", tn.ID, j)
		}
		ids[tn.ID] = i
		if strings.TrimSpace(tn.Name) == "" {
			bad(i, "name", "required")
		}
		if len(tn.Areas) == 0 && len(tn.Gateways) == 0 && len(tn.GatewayPrefixes) == 0 {
			bad(i, "areas", "a tenant needs at least one area or gateway (areas, gateways, gateway_prefixes)")
		}
		for _, g := range tn.Gateways {
			if j, dup := byID[g]; dup && j != i {
				bad(i, "gateways", "%q is already tenant %d's: a gateway belongs to one tenant", g, j)
			}
			byID[g] = i
		}
		for _, pre := range tn.GatewayPrefixes {
			if pre == "" {
				bad(i, "gateway_prefixes", "an empty prefix would claim every gateway")
				continue
			}
			prefixes = append(prefixes, prefix{i, pre})
		}
	}
	for _, a := range prefixes {
		for _, b := range prefixes {
			if a.tenant < b.tenant && (strings.HasPrefix(a.p, b.p) || strings.HasPrefix(b.p, a.p)) {
				bad(b.tenant, "gateway_prefixes", "%q overlaps tenant %d's %q: a gateway belongs to one tenant", b.p, a.tenant, a.p)
			}
		}
		for g, i := range byID {
			if i != a.tenant && strings.HasPrefix(g, a.p) {
				bad(i, "gateways", "%q is claimed by tenant %d's prefix %q too: a gateway belongs to one tenant", g, a.tenant, a.p)
			}
		}
	}
	slices.SortStableFunc(errs, func(a, b TenantError) int { return a.Index - b.Index })
	return errs
}

// tenantIndex is every tenant's scope, built once by New.
type tenantIndex struct {
	list     []Tenant
	scopes   map[string]Scope
	assigned *assignments // the registry's gateways, shared by every Scope
}

// buildTenants resolves each tenant's areas against the twin's areas and
// computes what its scope sees. Called by New before any site is placed;
// areas and roads never change after.
func (t *Twin) buildTenants() error {
	t.tenants = tenantIndex{list: slices.Clone(t.cfg.Tenants), scopes: map[string]Scope{},
		assigned: &assignments{m: map[string]string{}}}
	if len(t.cfg.Tenants) == 0 {
		return nil
	}
	inside := t.containingAreas()
	var errs []error
	for i, tn := range t.cfg.Tenants {
		s := Scope{tenants: []string{tn.ID}, gateways: map[string]bool{}, prefixes: slices.Clone(tn.GatewayPrefixes),
			areas: map[string]bool{}, assigned: t.tenants.assigned}
		named := map[string]bool{} // the areas the tenant names
		for _, a := range tn.Areas {
			n := t.areaByIDOrName(a)
			if n == nil {
				errs = append(errs, fmt.Errorf("%w: tenants[%d] (%s): area %q: no area has this ID or name", ErrConfig, i, tn.ID, a))
				continue
			}
			named[n.snap.ID] = true
		}
		for _, g := range tn.Gateways {
			s.gateways[g] = true
		}
		for id := range named {
			s.areas[id] = true
		}
		for id, in := range inside {
			if slices.ContainsFunc(in, func(a string) bool { return named[a] }) {
				s.areas[id] = true
			}
		}
		t.tenants.scopes[tn.ID] = s
	}
	return errors.Join(errs...)
}

// containingAreas returns, by ID, the areas each road and each area lies
// in: those of any level (of the coarser levels, for an area) that hold
// its representative point. Every tenant's scope is made from it.
func (t *Twin) containingAreas() map[string][]string {
	out := map[string][]string{}
	for _, n := range t.byID {
		if n.snap.Kind != KindArea && n.snap.Kind != KindRoad {
			continue
		}
		p := representative(n.snap.Geometry)
		for _, lv := range t.levels {
			if n.snap.Kind == KindArea && !t.finer(n, lv.name) {
				continue
			}
			if f, ok := lv.locate.Locate(p); ok {
				out[n.snap.ID] = append(out[n.snap.ID], f.ID)
			}
		}
	}
	return out
}

// areaByIDOrName finds an area by ID, else by name (any level, the
// coarsest first), as a site config's area is found.
func (t *Twin) areaByIDOrName(s string) *node {
	if n, ok := t.byID[s]; ok && n.snap.Kind == KindArea {
		return n
	}
	for _, lv := range t.levels {
		if n, ok := lv.byName[strings.ToLower(s)]; ok {
			return n
		}
	}
	return nil
}

// finer says whether area n is of a finer level than level.
func (t *Twin) finer(n *node, level string) bool {
	return slices.Index(Levels(), t.areaLevel[n]) > slices.Index(Levels(), level)
}

// representative returns a point of g that says where g is: a line's
// middle vertex, a polygon's centroid (its bound's centre if the centroid
// is undefined).
func representative(g orb.Geometry) orb.Point {
	switch g := g.(type) {
	case orb.Point:
		return g
	case orb.LineString:
		if len(g) > 0 {
			return g[len(g)/2]
		}
	case orb.MultiLineString:
		if len(g) > 0 && len(g[0]) > 0 {
			return g[0][len(g[0])/2]
		}
	case orb.Polygon, orb.MultiPolygon:
		if c, area := planar.CentroidArea(g); area > 0 {
			return c
		}
	}
	if g == nil {
		return orb.Point{}
	}
	return g.Bound().Center()
}

// Tenants returns the configured tenants.
func (t *Twin) Tenants() []Tenant { return slices.Clone(t.tenants.list) }

// Scope returns the scope of a reader of the given tenants: what any of
// them sees. An unknown tenant is an error; no tenants at all is the scope
// that sees nothing.
func (t *Twin) Scope(tenants ...string) (Scope, error) {
	out := Scope{gateways: map[string]bool{}, areas: map[string]bool{}, assigned: t.tenants.assigned}
	for _, id := range tenants {
		s, ok := t.tenants.scopes[id]
		if !ok {
			return Scope{}, fmt.Errorf("twin: no tenant %q", id)
		}
		if !slices.Contains(out.tenants, id) {
			out.tenants = append(out.tenants, id)
		}
		for g := range s.gateways {
			out.gateways[g] = true
		}
		out.prefixes = append(out.prefixes, s.prefixes...)
		for a := range s.areas {
			out.areas[a] = true
		}
	}
	slices.Sort(out.tenants)
	return out, nil
}

// TenantOf returns the tenant a gateway belongs to, "" for none: the one
// whose gateways or prefixes in the configuration claim it, else the one
// the enrolment registry put it in.
func (t *Twin) TenantOf(gateway string) string {
	if c := t.claimedBy(gateway); c != "" {
		return c
	}
	return t.tenants.assigned.get(gateway)
}

// claimedBy returns the tenant whose configured gateways or prefixes claim
// gateway, "" for none.
func (t *Twin) claimedBy(gateway string) string {
	for _, tn := range t.tenants.list {
		if slices.Contains(tn.Gateways, gateway) || slices.ContainsFunc(tn.GatewayPrefixes, func(p string) bool { return strings.HasPrefix(gateway, p) }) {
			return tn.ID
		}
	}
	return ""
}

// CheckTenantClaim says why gateways matching one ID or one ID prefix
// (prefix true) may not be put in tenant by the enrolment registry: the
// tenant does not exist, or the configuration gives some of them to
// another tenant. nil when they may.
func (t *Twin) CheckTenantClaim(tenant, idOrPrefix string, prefix bool) error {
	if _, ok := t.tenants.scopes[tenant]; !ok {
		return fmt.Errorf("no tenant %q", tenant)
	}
	for g, other := range t.tenants.assigned.all() {
		if other != tenant && (g == idOrPrefix || prefix && strings.HasPrefix(g, idOrPrefix)) {
			return fmt.Errorf("gateway %s is tenant %s's (enrolled)", g, other)
		}
	}
	for _, tn := range t.tenants.list {
		if tn.ID == tenant {
			continue
		}
		for _, g := range tn.Gateways {
			if g == idOrPrefix || prefix && strings.HasPrefix(g, idOrPrefix) {
				return fmt.Errorf("gateway %s is tenant %s's in the configuration", g, tn.ID)
			}
		}
		for _, p := range tn.GatewayPrefixes {
			if strings.HasPrefix(idOrPrefix, p) || prefix && strings.HasPrefix(p, idOrPrefix) {
				return fmt.Errorf("gateways %s* are tenant %s's in the configuration", p, tn.ID)
			}
		}
	}
	return nil
}

// SetGatewayTenant records the tenant the enrolment registry put a gateway
// in ("" for none); every Scope sees the change at once. A gateway the
// configuration gives to a tenant stays that tenant's (CheckTenantClaim
// keeps the registry from asking otherwise).
func (t *Twin) SetGatewayTenant(gateway, tenant string) {
	if c := t.claimedBy(gateway); c != "" && c != tenant {
		if tenant == "" {
			return // the registry asks nothing: the configuration's tenant stands
		}
		t.log.Warn("gateway's tenant from the registry ignored: the configuration gives it to another", "gateway", gateway, "registry", tenant, "config", c)
		return
	}
	t.tenants.assigned.set(gateway, tenant)
}
