package twin

import (
	"context"
	"time"
)

// Freshness rules. A site is Unknown until its first good reading, Fresh
// while its latest good reading is at most StaleFactor x its interval old,
// Stale after that, and Offline while its gateway's last will stands.
// Roads (over their traffic sites), areas and gateways (over all their
// sites) are Fresh when one of their sites is, Stale when none is but one
// has reported, Unknown otherwise; a gateway whose last will stands is
// Offline. Roads carry "congested" while one of their traffic sites is
// fresh: true when a fresh one reports congestion; without a fresh traffic
// site a road has no congestion attribute (unknown, not "flowing").

// siteFreshness is a site's freshness at now.
func (t *Twin) siteFreshness(n *node, now time.Time) Freshness {
	switch {
	case n.gw != nil && n.gw.offline:
		return Offline
	case n.snap.Updated.IsZero():
		return Unknown
	case now.Sub(n.snap.Updated) > time.Duration(t.cfg.StaleFactor*float64(n.site.Interval)):
		return Stale
	}
	return Fresh
}

// updateSite recomputes a site's freshness and contribution; attrs, if not
// nil, are its new attributes. It emits the site's change if its
// attributes or freshness changed, and the changes of its groups.
func (t *Twin) updateSite(n *node, attrs map[string]Attr, now time.Time) {
	old := n.snap.Freshness
	fr := t.siteFreshness(n, now)
	if attrs == nil && fr == old {
		return
	}
	if attrs != nil {
		n.snap.Attrs = attrs
	}
	n.snap.Freshness = fr
	kwh, kwhOK := n.energy.total()
	c := contribOf(n.site.Category, fr == Fresh, n.snap.Attrs, kwh, kwhOK)
	if c != n.contr {
		for _, a := range n.areas {
			a.agg.add(n.contr, -1)
			a.agg.add(c, 1)
			a.agg.updated = now
		}
		t.city.add(n.contr, -1)
		t.city.add(c, 1)
		t.city.updated = now
		if n.road != nil && n.site.Category == "traffic" && c.congested != n.contr.congested {
			if c.congested {
				n.road.congested++
			} else {
				n.road.congested--
			}
		}
		n.contr = c
	}
	if fr != old {
		for _, g := range n.areas {
			if g != nil {
				g.members[old]--
				g.members[fr]++
			}
		}
		if n.gw != nil {
			n.gw.members[old]--
			n.gw.members[fr]++
		}
		if n.road != nil && n.site.Category == "traffic" {
			n.road.members[old]--
			n.road.members[fr]++
		}
	}
	t.emit(n)
	// The groups one by one: appending them to one slice allocated on
	// every reading (BenchmarkApply's allocs/reading).
	for _, g := range n.areas {
		if g != nil {
			t.updateGroup(g, now)
		}
	}
	if n.road != nil {
		t.updateGroup(n.road, now)
	}
	if n.gw != nil {
		t.updateGroup(n.gw, now)
	}
}

// updateGroup recomputes an area's, road's or gateway's freshness (and a
// road's congestion) and emits its change when either flipped.
func (t *Twin) updateGroup(g *node, now time.Time) {
	fr := Unknown
	switch {
	case g.snap.Kind == KindGateway && g.offline:
		fr = Offline
	case g.members[Fresh] > 0:
		fr = Fresh
	case g.members[Stale]+g.members[Offline] > 0:
		fr = Stale
	}
	changed := fr != g.snap.Freshness
	if g.snap.Kind == KindRoad {
		// Only fresh traffic sites speak for a road: with none, its
		// congestion is unknown, and the map must not show it flowing.
		if fr == Fresh {
			cong := g.congested > 0
			if a, ok := g.snap.Attrs["congested"]; !ok || a.Value != cong {
				g.snap.Attrs = map[string]Attr{"congested": {Value: cong, ObservedAt: now}}
				changed = true
			}
		} else if _, ok := g.snap.Attrs["congested"]; ok {
			g.snap.Attrs = nil
			changed = true
		}
	}
	if !changed {
		return
	}
	g.snap.Freshness = fr
	if fr != Unknown && g.snap.Kind != KindGateway {
		g.snap.Updated = now
	}
	t.emit(g)
}

// setGateway applies a gateway state under t.mu.
func (t *Twin) setGateway(g *node, online bool, now time.Time) {
	if g.offline == !online {
		return
	}
	g.offline = !online
	state := "online"
	if !online {
		state = "offline"
	}
	t.log.Info("twin: gateway state", "gateway", g.snap.Gateway, "state", state)
	g.snap.Attrs = g.fleetAttrs()
	before := t.seq
	for _, n := range g.sitesOf {
		t.updateSite(n, nil, now)
	}
	// The gateway's own change, even if its freshness did not flip (once:
	// its sites' changes may have made it).
	if g.emitted <= before {
		g.snap.Freshness = ""
		t.updateGroup(g, now)
	}
}

// Tick turns sites Stale whose latest good reading is older than
// StaleFactor x their interval at now, emitting their changes, and
// rebuilds the indicator sums from the sites' contributions.
func (t *Twin) Tick(now time.Time) {
	t.mu.Lock()
	defer t.unlock()
	for _, n := range t.nodes {
		if n.site != nil && n.snap.Freshness == Fresh {
			t.updateSite(n, nil, now)
		}
	}
	t.resum()
	t.flush()
}

// resum rebuilds the aggregates from the contributions, dropping the
// rounding drift of incremental updates.
func (t *Twin) resum() {
	city := agg{updated: t.city.updated}
	for _, a := range t.areas {
		a.agg = agg{updated: a.agg.updated}
	}
	for _, n := range t.nodes {
		if n.site == nil {
			continue
		}
		city.add(n.contr, 1)
		for _, a := range n.areas {
			a.agg.add(n.contr, 1)
		}
	}
	t.city = city
}

// Run calls Tick every TickInterval until ctx ends; it returns ctx's error.
func (t *Twin) Run(ctx context.Context) error {
	tk := time.NewTicker(t.cfg.TickInterval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tk.C:
			t.Tick(t.cfg.Now())
		}
	}
}
