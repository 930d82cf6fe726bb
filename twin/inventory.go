package twin

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/wire"
)

// ErrSites is wrapped by every error of SetGatewaySites: the sites were
// refused, and nothing changed.
var ErrSites = errors.New("twin sites")

// SetGatewaySites replaces the sites of a gateway with sites (each must
// name gateway; the same checks as Config.Sites apply), as when a gateway
// enrols or re-enrols with its site config, while the twin runs:
//
//   - a device not known yet becomes a site entity, placed as New places
//     sites (area, road), Unknown until its first reading;
//   - a device whose site changed (location, area, category, interval,
//     entity ID) moves: it leaves its old area, road and gateway and joins
//     the new ones, and the indicators follow. Where its entity ID is
//     unchanged the entity keeps its readings (its attributes are derived
//     again for the new category and interval); a new entity ID is a new
//     entity, the old one removed;
//   - a device no longer listed is removed: its entity leaves snapshots,
//     queries, the areas' and roads' counts and the indicators, and
//     subscribers get a Change with Removed set.
//
// The gateway's entity is made when new, at its sites' centroid, moved
// when the centroid moves, and removed with its last site (sites empty).
// Every change is streamed like a reading's; the same sites again change
// nothing and stream nothing. The call is refused (ErrSites) if a site
// names another gateway, is invalid, or would take an entity ID that
// another gateway's site, an area, a road or a gateway holds; nothing
// changes then. A device moving from one gateway to another is removed
// from the first and added to the second, in that order.
//
// The twin's spatial index is repacked under the lock when entities come,
// go or move, which costs O(n log n) in the entities (BenchmarkSetGatewaySites:
// ~15 ms with 10,000 sites on a shared 2-core machine): enrolments are
// rare, and readers and Apply wait that long.
func (t *Twin) SetGatewaySites(gateway string, sites []Site) error {
	if err := checkGatewaySites(gateway, sites); err != nil {
		return err
	}
	own := make([]Site, len(sites)) // the caller may reuse its slice
	copy(own, sites)
	now := t.cfg.Now()
	t.mu.Lock()
	defer t.unlock()
	if err := t.checkIDs(gateway, own); err != nil {
		return err
	}
	g := t.gws[gateway]
	var groups []*node // groups sites left: their state is recomputed
	var added []*node  // new entities, for the index
	changed := false   // entities came, went or moved: rebuild the index
	if g != nil {
		want := make(map[string]string, len(own)) // device -> entity ID
		for i := range own {
			want[own[i].Device], _ = siteID(&own[i])
		}
		for _, n := range slices.Clone(g.sitesOf) {
			if id, ok := want[n.site.Device]; !ok || id != n.snap.ID {
				groups = append(groups, t.leave(n, now)...)
				delete(t.sites, siteKey{gateway, n.site.Device})
				t.remove(n)
				changed = true
			}
		}
	}
	gwNew, gwMoved := false, false
	if len(own) > 0 {
		if g == nil {
			g = newGateway(gateway, now)
			t.gws[gateway] = g
			t.byID[g.snap.ID] = g
			added = append(added, g)
			gwNew = true
		}
		pts := make([]*node, len(own))
		for i := range own {
			pts[i] = &node{site: &own[i]}
		}
		if c := centroid(pts); gwNew || !samePlace(g.snap.Geometry, c) {
			g.snap.Geometry, g.bound = c, c.Bound()
			gwMoved = true
		}
	}
	for i := range own {
		s := &own[i]
		n, ok := t.sites[siteKey{gateway, s.Device}]
		switch {
		case ok && *n.site == *s:
			continue
		case ok: // moved or changed: same entity, new place
			groups = append(groups, t.leave(n, now)...)
			t.place(n, s)
		default:
			n = t.newSite(s)
			t.sites[siteKey{gateway, s.Device}] = n
			t.byID[n.snap.ID] = n
			added = append(added, n)
		}
		changed = true
		t.join(n, g)
		t.updateSite(n, deriveAttrs(s.Category, s.Interval, n.points), now)
	}
	if g != nil && len(own) == 0 {
		delete(t.gws, gateway)
		t.remove(g)
		changed = true
	} else if gwNew || gwMoved {
		changed = true
		t.emit(g)
	}
	for _, grp := range groups {
		if t.byID[grp.snap.ID] == grp {
			t.updateGroup(grp, now)
		}
	}
	if changed {
		if err := t.buildIndex(added); err != nil {
			// Cannot happen: NewIndex fails only on a nil layer.
			t.log.Error("twin: rebuild the spatial index", "err", err)
		}
		t.log.Info("twin: gateway sites set", "gateway", gateway, "sites", len(own), "entities", len(t.nodes))
	}
	t.flush()
	return nil
}

// remove takes an entity out of the twin and streams its removal, under
// t.mu; the caller rebuilds the index.
func (t *Twin) remove(n *node) {
	delete(t.byID, n.snap.ID)
	t.emitRemoved(n)
}

// checkGatewaySites checks what SetGatewaySites can without the state.
func checkGatewaySites(gateway string, sites []Site) error {
	field := "gateway " + gateway + " sites"
	errs := siteErrors(field, sites)
	if !wire.ValidGatewayID(gateway) {
		errs = append(errs, fmt.Errorf("gateway %q is not a valid gateway ID", gateway))
	}
	for i, s := range sites {
		if s.Gateway != gateway {
			errs = append(errs, fmt.Errorf("%s[%d] (device %q): gateway %q, expected %q: a gateway sets only its own sites",
				field, i, s.Device, s.Gateway, gateway))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrSites, errors.Join(errs...))
	}
	return nil
}

// checkIDs refuses sites whose entity IDs collide with each other, with
// the gateway's entity, or with an entity that is not one of the gateway's
// sites (those may be renamed or removed by the same call), under t.mu.
func (t *Twin) checkIDs(gateway string, sites []Site) error {
	var errs []error
	gwID := GatewayEntityID(gateway)
	if n, ok := t.byID[gwID]; ok && n.snap.Kind != KindGateway {
		errs = append(errs, fmt.Errorf("gateway %s: its entity ID %q is held by %s %q", gateway, gwID, n.snap.Kind, n.snap.Name))
	}
	seen := make(map[string]int, len(sites))
	for i := range sites {
		s := &sites[i]
		id, _ := siteID(s)
		p := fmt.Sprintf("gateway %s sites[%d] (device %q)", gateway, i, s.Device)
		if j, dup := seen[id]; dup {
			errs = append(errs, fmt.Errorf("%s: entity ID %q also taken by sites[%d]", p, id, j))
		}
		seen[id] = i
		if id == gwID {
			errs = append(errs, fmt.Errorf("%s: entity ID %q is the gateway's own", p, id))
		} else if n, ok := t.byID[id]; ok && (n.site == nil || n.site.Gateway != gateway) {
			holder := string(n.snap.Kind) + " " + n.snap.ID
			if n.site != nil {
				holder = fmt.Sprintf("device %q of gateway %s", n.site.Device, n.site.Gateway)
			}
			errs = append(errs, fmt.Errorf("%s: entity ID %q is held by %s", p, id, holder))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrSites, errors.Join(errs...))
	}
	return nil
}

// samePlace says whether a gateway's position is c, give or take the
// rounding of a centroid summed in another order (1e-9 degrees, 0.1 mm).
func samePlace(g orb.Geometry, c orb.Point) bool {
	p, ok := g.(orb.Point)
	return ok && math.Abs(p[0]-c[0]) < 1e-9 && math.Abs(p[1]-c[1]) < 1e-9
}
