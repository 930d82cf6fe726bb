package twin

var _ Reader = (*Twin)(nil)

// Entities implements Reader. A bound filter is answered from an R-tree of
// the entities' bounds (rebuilt when the inventory changes), so a viewport
// over 10,000 sites costs what it returns.
func (t *Twin) Entities(f Filter) []Entity {
	cf := compileFilter(f)
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []Entity
	if f.Bound == nil {
		// Sized once: growing a slice of 100,000 entities under the read
		// lock took a second (BenchmarkEntitiesAnswer), during which Apply
		// waited.
		out = make([]Entity, 0, len(t.nodes))
		for _, n := range t.nodes {
			if cf.match(&n.snap, n.bound) {
				out = append(out, n.snap)
			}
		}
		return out
	}
	for _, ft := range t.index.Query(*f.Bound) {
		n := t.byID[ft.ID]
		if cf.match(&n.snap, n.bound) {
			out = append(out, n.snap)
		}
	}
	return out
}

// Entity implements Reader.
func (t *Twin) Entity(id string) (Entity, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n, ok := t.byID[id]
	if !ok {
		return Entity{}, false
	}
	return n.snap, true
}

// Indicators implements Reader: the indicators of every area of every
// level, coarsest level first and in each layer's order, and of the city (all sites, in an area or not), from the
// sums kept as readings arrive. See indicators.go for the definitions.
func (t *Twin) Indicators() Indicators {
	now := t.cfg.Now()
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := Indicators{Generated: now, City: t.city.indicators(t.window), Areas: make([]AreaIndicators, len(t.areas))}
	for i, a := range t.areas {
		out.Areas[i] = AreaIndicators{ID: a.snap.ID, Name: a.snap.Name, Level: t.areaLevel[a], Indicators: a.agg.indicators(t.window)}
	}
	return out
}

// LastSeq implements Reader.
func (t *Twin) LastSeq() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.seq
}
