package twin

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/geo"
)

// Twin is the live state of the city's entities. Apply, SetGatewayStatus,
// SetGatewaySites and Tick change it; the Reader methods take snapshots.
// All methods are safe for concurrent use: one RWMutex guards the state
// (the inventory of entities included), writers hold it for the work of
// one batch or one gateway's sites, readers only while copying snapshots
// (which share their immutable Attrs maps), and subscribers read one
// shared change log from their own cursors (see fanout), so that no
// client ever holds it.
type Twin struct {
	cfg    Config
	log    *slog.Logger
	m      *metrics
	window string // IndicatorWindow, formatted

	// Static after New.
	areas     []*node // level order (coarsest first), then layer order
	levels    []*areaLevel
	areaLevel map[*node]string // area -> its level
	roads     *geo.Roads
	history   int

	mu sync.RWMutex
	// The inventory: sites and gateways change with SetGatewaySites.
	nodes []*node          // sorted by ID
	byID  map[string]*node // all entities

	tenants tenantIndex // set by New, read-only after
	sites   map[siteKey]*node
	gws     map[string]*node // gateway ID -> gateway entity
	index   *geo.Index       // entity bounds; feature i is nodes[i]

	city  agg
	batch uint64 // Apply counter, marks dirty nodes
	seq   uint64
	floor uint64 // changes up to it are not retained (evicted, or before the start)
	rep   replica
	ring  []ringEntry
	head  int         // next write position in ring
	count int         // entries in ring
	out   []ringEntry // changes of the current write, a batch at its end
	fan   fanout
	subs  map[*subscriber]struct{} // guarded by fan.subMu

	dropped atomic.Uint64 // subscribers dropped, for benchmarks and tests
}

// siteKey identifies a site by where its readings come from.
type siteKey struct{ gateway, device string }

// node is one entity and its live state.
type node struct {
	snap    Entity // current snapshot; its Attrs map is never modified
	bound   orb.Bound
	emitted uint64 // Seq of its latest change

	// Sites.
	site   *Site
	points map[string]point
	energy energyWindow
	contr  contrib
	area   *node   // primary area: its municipality, else its finest
	areas  []*node // one per level it lies in, coarsest first
	road   *node
	gw     *node
	dirty  uint64

	// Areas, roads and gateways: how many member sites are in each state,
	// and (roads) how many fresh ones are congested.
	members   map[Freshness]int
	congested int
	agg       agg // areas
	// Gateways.
	offline   bool
	offlineAt time.Time
	sitesOf   []*node
	fleet     fleet
}

// New builds the twin's entities: the areas and roads of the layers, a
// site per Site placed in its area (Site.Area if it names an area's ID or
// name, else the area containing it) and on the nearest road within
// RoadMaxMetres, and a gateway entity per gateway at the centroid of its
// sites. Every entity starts Unknown.
func New(cfg Config) (*Twin, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	t := &Twin{cfg: cfg, log: cfg.Logger, window: formatWindow(cfg.IndicatorWindow),
		byID: map[string]*node{}, sites: map[siteKey]*node{}, gws: map[string]*node{},
		areaLevel: map[*node]string{}, history: cfg.History, subs: map[*subscriber]struct{}{}}
	t.seq = uint64(cfg.Now().UnixMicro())
	t.floor = t.seq
	t.fan.init()
	t.ring = make([]ringEntry, 0, min(cfg.History, 1024))
	var err error
	if t.m, err = newMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	add := func(n *node) error {
		if _, dup := t.byID[n.snap.ID]; dup {
			return fmt.Errorf("%w: entity ID %q used twice (%s)", ErrConfig, n.snap.ID, n.snap.Kind)
		}
		n.bound = n.snap.Geometry.Bound()
		t.byID[n.snap.ID] = n
		return nil
	}
	if err := t.addLevels(add); err != nil {
		return nil, err
	}
	if cfg.Roads != nil {
		if t.roads, err = geo.NewRoads(cfg.Roads); err != nil {
			return nil, fmt.Errorf("twin: index roads: %w", err)
		}
		for _, f := range cfg.Roads.Features {
			n := &node{snap: Entity{ID: f.ID, Type: "RoadSegment", Kind: KindRoad, Name: f.Name,
				Geometry: f.Geometry, Freshness: Unknown}, members: map[Freshness]int{}}
			if err := add(n); err != nil {
				return nil, err
			}
		}
	}
	if err := t.buildTenants(); err != nil {
		return nil, err
	}
	now := cfg.Now()
	var gws []*node // first-seen order
	for i := range cfg.Sites {
		s := &cfg.Sites[i]
		n := t.newSite(s)
		if err := add(n); err != nil {
			return nil, err
		}
		t.sites[siteKey{s.Gateway, s.Device}] = n
		g, ok := t.gws[s.Gateway]
		if !ok {
			g = newGateway(s.Gateway, now)
			t.gws[s.Gateway] = g
			gws = append(gws, g)
		}
		t.join(n, g)
	}
	for _, g := range gws {
		g.snap.Geometry = centroid(g.sitesOf)
		if err := add(g); err != nil {
			return nil, err
		}
	}
	all := make([]*node, 0, len(t.byID))
	for _, n := range t.byID {
		all = append(all, n)
	}
	if err := t.buildIndex(all); err != nil {
		return nil, err
	}
	return t, nil
}

// siteID returns the entity ID and FIWARE type of a site: its site
// config's entity ID (whose type it is when it is an NGSI-LD URN) or one
// made from its category's type, gateway and device.
func siteID(s *Site) (id, typ string) {
	typ = s.Category.FIWAREType()
	id = s.Entity
	if id == "" {
		id = "urn:ngsi-ld:" + typ + ":" + s.Gateway + ":" + s.Device
	} else if rest, ok := strings.CutPrefix(id, "urn:ngsi-ld:"); ok {
		if ty, _, ok := strings.Cut(rest, ":"); ok && ty != "" {
			typ = ty
		}
	}
	return id, typ
}

// newSite makes a site's entity for s, placed (see place) but not yet a
// member of its groups (see join).
func (t *Twin) newSite(s *Site) *node {
	id, _ := siteID(s)
	n := &node{points: map[string]point{}, snap: Entity{ID: id, Kind: KindSite, Freshness: Unknown}}
	t.place(n, s)
	return n
}

// place describes a site's entity by s and assigns its area and road.
func (t *Twin) place(n *node, s *Site) {
	p := orb.Point{s.Lon, s.Lat}
	_, typ := siteID(s)
	n.site = s
	n.bound = p.Bound()
	n.snap.Type, n.snap.Name, n.snap.Geometry = typ, s.Device, p
	n.snap.Gateway, n.snap.Device, n.snap.Category = s.Gateway, s.Device, s.Category
	n.road = nil
	t.placeAreas(n, s)
	if t.roads != nil {
		if f, _, ok := t.roads.Nearest(p, t.cfg.RoadMaxMetres); ok {
			n.road = t.byID[f.ID]
		}
	}
	n.snap.Area, n.snap.Road = "", ""
	if n.area != nil {
		n.snap.Area = n.area.snap.ID
	}
	if n.road != nil {
		n.snap.Road = n.road.snap.ID
	}
}

// join makes a placed site a member of its area, road (traffic sites),
// and gateway g, counted in its current freshness. Its contribution to
// the indicators is added by the next updateSite (it starts at zero).
func (t *Twin) join(n, g *node) {
	n.gw = g
	g.sitesOf = append(g.sitesOf, n)
	fr := n.snap.Freshness
	g.members[fr]++
	for _, a := range n.areas {
		a.members[fr]++
	}
	if n.road != nil && n.site.Category == "traffic" {
		n.road.members[fr]++
	}
}

// leave undoes join and takes the site's contribution out of the
// indicators; it returns the groups the site left, whose state the caller
// must recompute (updateGroup).
func (t *Twin) leave(n *node, now time.Time) []*node {
	fr := n.snap.Freshness
	t.city.add(n.contr, -1)
	t.city.updated = now
	var left []*node
	for _, a := range n.areas {
		a.members[fr]--
		a.agg.add(n.contr, -1)
		a.agg.updated = now
		left = append(left, a)
	}
	if r := n.road; r != nil && n.site.Category == "traffic" {
		r.members[fr]--
		if n.contr.congested {
			r.congested--
		}
		left = append(left, r)
	}
	if g := n.gw; g != nil {
		g.members[fr]--
		g.sitesOf = slices.DeleteFunc(g.sitesOf, func(x *node) bool { return x == n })
		left = append(left, g)
	}
	n.contr = contrib{}
	n.gw = nil
	return left
}

// newGateway makes the entity of a gateway, without a place yet.
func newGateway(id string, now time.Time) *node {
	g := &node{snap: Entity{ID: GatewayEntityID(id), Type: "Device", Kind: KindGateway,
		Name: id, Gateway: id, Freshness: Unknown}, members: map[Freshness]int{}}
	g.fleet.since = now
	g.snap.Attrs = g.fleetAttrs()
	return g
}

// GatewayEntityID is the entity ID of a gateway's entity.
func GatewayEntityID(gateway string) string { return "urn:ngsi-ld:Device:" + gateway }

// centroid is the mean position of sites.
func centroid(sites []*node) orb.Point {
	var c orb.Point
	for _, n := range sites {
		c[0] += n.site.Lon / float64(len(sites))
		c[1] += n.site.Lat / float64(len(sites))
	}
	return c
}

// buildIndex updates the entities sorted by ID (dropping those no longer
// in byID, merging added) and indexes their bounds. Keeping the order
// rather than sorting again makes an enrolment cost the R-tree's packing
// alone.
func (t *Twin) buildIndex(added []*node) error {
	kept := slices.DeleteFunc(t.nodes, func(n *node) bool { return t.byID[n.snap.ID] != n })
	byID := func(a, b *node) int { return strings.Compare(a.snap.ID, b.snap.ID) }
	slices.SortFunc(added, byID)
	merged := make([]*node, 0, len(kept)+len(added))
	for len(kept) > 0 && len(added) > 0 {
		if byID(kept[0], added[0]) < 0 {
			merged, kept = append(merged, kept[0]), kept[1:]
		} else {
			merged, added = append(merged, added[0]), added[1:]
		}
	}
	t.nodes = append(append(merged, kept...), added...)
	layer := &geo.Layer{Name: "twin", Kind: geo.KindSites, Features: make([]geo.Feature, len(t.nodes))}
	for i, n := range t.nodes {
		layer.Features[i] = geo.Feature{ID: n.snap.ID, Geometry: n.snap.Geometry, Bound: n.bound}
	}
	var err error
	if t.index, err = geo.NewIndex(layer); err != nil {
		return fmt.Errorf("twin: index entities: %w", err)
	}
	t.m.entities.Set(float64(len(t.nodes)))
	return nil
}
