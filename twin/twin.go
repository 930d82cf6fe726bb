package twin

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/geo"
)

// Twin is the live state of the city's entities. Apply, SetGatewayState
// and Tick change it; the Reader methods take snapshots. All methods are
// safe for concurrent use: one RWMutex guards the state, writers hold it
// for the work of one batch, readers only while copying snapshots (which
// share their immutable Attrs maps), and subscribers are fed through
// their own queues so that no client ever holds the lock.
type Twin struct {
	cfg    Config
	log    *slog.Logger
	m      *metrics
	window string // IndicatorWindow, formatted

	// Static after New.
	nodes   []*node          // sorted by ID
	byID    map[string]*node // all entities
	sites   map[siteKey]*node
	gws     map[string]*node // gateway ID -> gateway entity
	areas   []*node          // layer order
	index   *geo.Index       // entity bounds; feature i is nodes[i]
	history int

	mu    sync.RWMutex
	city  agg
	batch uint64 // Apply counter, marks dirty nodes
	seq   uint64
	ring  []ringEntry
	head  int // next write position in ring
	count int // entries in ring
	subs  map[*subscriber]struct{}
	out   []ringEntry // changes of the current write, fanned out at its end

	dropped atomic.Uint64 // subscribers dropped, for benchmarks and tests
}

// siteKey identifies a site by where its readings come from.
type siteKey struct{ gateway, device string }

// node is one entity and its live state.
type node struct {
	snap  Entity // current snapshot; its Attrs map is never modified
	bound orb.Bound

	// Sites.
	site   *Site
	points map[string]point
	energy energyWindow
	contr  contrib
	area   *node
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
		history: cfg.History, subs: map[*subscriber]struct{}{}}
	t.seq = uint64(cfg.Now().UnixMicro())
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
	var locate *geo.Areas
	areaByName := map[string]*node{}
	if cfg.Areas != nil {
		if locate, err = geo.NewAreas(cfg.Areas); err != nil {
			return nil, fmt.Errorf("twin: index areas: %w", err)
		}
		for _, f := range cfg.Areas.Features {
			n := &node{snap: Entity{ID: f.ID, Type: "AdministrativeArea", Kind: KindArea, Name: f.Name,
				Geometry: f.Geometry, Freshness: Unknown}, members: map[Freshness]int{}}
			if err := add(n); err != nil {
				return nil, err
			}
			t.areas = append(t.areas, n)
			if _, ok := areaByName[strings.ToLower(f.Name)]; !ok && f.Name != "" {
				areaByName[strings.ToLower(f.Name)] = n
			}
		}
	}
	var roads *geo.Roads
	if cfg.Roads != nil {
		if roads, err = geo.NewRoads(cfg.Roads); err != nil {
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
	for i := range cfg.Sites {
		s := &cfg.Sites[i]
		n, err := t.placeSite(s, locate, roads, areaByName)
		if err != nil {
			return nil, err
		}
		if err := add(n); err != nil {
			return nil, err
		}
		t.sites[siteKey{s.Gateway, s.Device}] = n
	}
	if err := t.buildGateways(add); err != nil {
		return nil, err
	}
	if err := t.buildIndex(); err != nil {
		return nil, err
	}
	t.m.entities.Set(float64(len(t.nodes)))
	return t, nil
}

// placeSite makes a site's entity and assigns its area and road.
func (t *Twin) placeSite(s *Site, locate *geo.Areas, roads *geo.Roads, areaByName map[string]*node) (*node, error) {
	p := orb.Point{s.Lon, s.Lat}
	typ := s.Category.FIWAREType()
	id := s.Entity
	if id == "" {
		id = "urn:ngsi-ld:" + typ + ":" + s.Gateway + ":" + s.Device
	} else if rest, ok := strings.CutPrefix(id, "urn:ngsi-ld:"); ok {
		if ty, _, ok := strings.Cut(rest, ":"); ok && ty != "" {
			typ = ty
		}
	}
	n := &node{site: s, points: map[string]point{},
		snap: Entity{ID: id, Type: typ, Kind: KindSite, Name: s.Device, Geometry: p,
			Gateway: s.Gateway, Device: s.Device, Category: s.Category, Freshness: Unknown}}
	if s.Area != "" {
		if a, ok := t.byID[s.Area]; ok && a.snap.Kind == KindArea {
			n.area = a
		} else if a, ok := areaByName[strings.ToLower(s.Area)]; ok {
			n.area = a
		} else {
			t.log.Warn("twin: site area names no area of the layer; placing the site by its location",
				"gateway", s.Gateway, "device", s.Device, "area", s.Area)
		}
	}
	if n.area == nil && locate != nil {
		if f, ok := locate.Locate(p); ok {
			n.area = t.byID[f.ID]
		}
	}
	if roads != nil {
		if f, _, ok := roads.Nearest(p, t.cfg.RoadMaxMetres); ok {
			n.road = t.byID[f.ID]
		}
	}
	if n.area != nil {
		n.snap.Area = n.area.snap.ID
		n.area.members[Unknown]++
	}
	if n.road != nil && s.Category == "traffic" {
		n.snap.Road = n.road.snap.ID
		n.road.members[Unknown]++
	} else if n.road != nil {
		n.snap.Road = n.road.snap.ID
	}
	return n, nil
}

// buildGateways makes a gateway entity per gateway, at its sites' centroid.
func (t *Twin) buildGateways(add func(*node) error) error {
	var order []string
	for i := range t.cfg.Sites {
		s := &t.cfg.Sites[i]
		g, ok := t.gws[s.Gateway]
		if !ok {
			g = &node{snap: Entity{ID: "urn:ngsi-ld:Device:" + s.Gateway, Type: "Device", Kind: KindGateway,
				Name: s.Gateway, Gateway: s.Gateway, Freshness: Unknown}, members: map[Freshness]int{}}
			t.gws[s.Gateway] = g
			order = append(order, s.Gateway)
		}
		n := t.sites[siteKey{s.Gateway, s.Device}]
		n.gw = g
		g.sitesOf = append(g.sitesOf, n)
		g.members[Unknown]++
	}
	for _, id := range order {
		g := t.gws[id]
		var c orb.Point
		for _, n := range g.sitesOf {
			c[0] += n.site.Lon / float64(len(g.sitesOf))
			c[1] += n.site.Lat / float64(len(g.sitesOf))
		}
		g.snap.Geometry = c
		if err := add(g); err != nil {
			return err
		}
	}
	return nil
}

// buildIndex sorts the entities by ID and indexes their bounds.
func (t *Twin) buildIndex() error {
	t.nodes = make([]*node, 0, len(t.byID))
	for _, n := range t.byID {
		t.nodes = append(t.nodes, n)
	}
	sort.Slice(t.nodes, func(i, j int) bool { return t.nodes[i].snap.ID < t.nodes[j].snap.ID })
	layer := &geo.Layer{Name: "twin", Kind: geo.KindSites, Features: make([]geo.Feature, len(t.nodes))}
	for i, n := range t.nodes {
		layer.Features[i] = geo.Feature{ID: n.snap.ID, Geometry: n.snap.Geometry, Bound: n.bound}
	}
	var err error
	if t.index, err = geo.NewIndex(layer); err != nil {
		return fmt.Errorf("twin: index entities: %w", err)
	}
	return nil
}
