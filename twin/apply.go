package twin

import (
	"time"

	"github.com/ponte-city/ponte/wire"
)

// Apply applies a batch of newly durable readings of a gateway (it
// implements ingest/service.Applier). Each good reading updates its point
// of the site of (gateway, reading.Device), unless that point already
// holds a reading acquired later (a late reading never moves a value or
// Updated backwards). A bad-quality reading changes nothing: the site
// keeps its last good value, and its freshness follows good readings only,
// so a device that answers with errors goes stale as a silent one does
// (both are counted). Readings of devices no site config places are
// counted and ignored. Readings of a gateway marked offline change values,
// not its state (only its own online status clears it: see the package
// doc). The batch counts as the gateway last seen now (see fleet.go).
// epoch is not used: the service has already deduplicated the batch.
func (t *Twin) Apply(gateway string, epoch uint64, b *wire.Batch) {
	if b == nil || len(b.Readings) == 0 {
		return
	}
	now := t.cfg.Now()
	t.mu.Lock()
	defer t.unlock()
	t.apply(gateway, b, now, true)
}

// apply is Apply under t.mu, at now; seen says whether the batch counts
// as the gateway heard of at now (not when restoring a checkpoint).
func (t *Twin) apply(gateway string, b *wire.Batch, now time.Time, seen bool) {
	var good, bad, unknown, late int
	t.batch++
	var dirty []*node
	for i := range b.Readings {
		r := &b.Readings[i]
		n, ok := t.sites[siteKey{gateway, r.Device}]
		if !ok {
			unknown++
			continue
		}
		if !r.Quality.Good() {
			bad++
			continue
		}
		if p, ok := n.points[r.Point]; ok && p.time.After(r.Time) {
			late++
			continue
		}
		good++
		n.points[r.Point] = point{value: r.Value, unit: r.Unit, time: r.Time}
		if r.Time.After(n.snap.Updated) {
			n.snap.Updated = r.Time
		}
		if n.site.Category == "energy" && r.Point == "import_energy" {
			if f, ok := r.Value.AsFloat(); ok {
				n.energy.add(r.Time, f, t.cfg.IndicatorWindow)
			}
		}
		if n.dirty != t.batch {
			n.dirty = t.batch
			dirty = append(dirty, n)
		}
	}
	// The gateway's last seen rides on its change if the batch makes one.
	before := t.seq
	g, ok := t.gws[gateway]
	if seen = seen && ok && g.seen(now); seen {
		g.snap.Attrs = g.fleetAttrs()
	}
	for _, n := range dirty {
		attrs := deriveAttrs(n.site.Category, n.site.Interval, n.points)
		t.updateSite(n, attrs, now)
	}
	if seen && g.emitted <= before {
		t.emit(g)
	}
	t.flush()
	t.m.readings.WithLabelValues("good").Add(float64(good))
	t.m.readings.WithLabelValues("bad_quality").Add(float64(bad))
	t.m.readings.WithLabelValues("unknown_device").Add(float64(unknown))
	t.m.readings.WithLabelValues("late").Add(float64(late))
}
