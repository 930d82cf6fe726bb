package twin

import (
	"slices"
	"strings"
	"time"

	"github.com/ponte-city/ponte/wire"
)

// checkpointBatch bounds the readings of one checkpoint batch, well within
// wire.MaxBatchBytes.
const checkpointBatch = 2000

// Checkpoint is the state a replica's twin rests on, as readings: for
// every site, the latest good reading of each point (and an energy
// meter's counter readings within the indicator window), as wire batches
// per gateway with sequence numbers 1, 2, ...; and the applied stream's
// sequence they cover. Restoring it and applying the stream after Applied
// gives the state of a twin that applied the whole stream.
type Checkpoint struct {
	// Applied is the stream sequence of the latest batch it covers.
	Applied uint64
	// Taken is when it was taken (the twin's clock).
	Taken time.Time
	// Batches hold the readings, gateway by gateway (sorted by ID); a
	// gateway with many readings has several.
	Batches []*wire.Batch
	// Extra is stored and restored with the checkpoint by its keeper and
	// means nothing to the twin (ingest/replica keeps there the batches'
	// sequence numbers its follower applied).
	Extra []byte
}

// Checkpoint returns the twin's state as a Checkpoint. It holds the
// twin's read lock while copying the readings (no encoding).
func (t *Twin) Checkpoint() *Checkpoint {
	now := t.cfg.Now()
	t.mu.RLock()
	defer t.mu.RUnlock()
	cp := &Checkpoint{Applied: t.rep.applied, Taken: now}
	gws := make([]string, 0, len(t.gws))
	for id := range t.gws {
		gws = append(gws, id)
	}
	slices.Sort(gws)
	for _, id := range gws {
		var b *wire.Batch
		add := func(r wire.Reading) {
			if b == nil || len(b.Readings) == checkpointBatch {
				b = &wire.Batch{Gateway: id}
				cp.Batches = append(cp.Batches, b)
			}
			b.Seqs = append(b.Seqs, uint64(len(b.Readings)+1))
			b.Readings = append(b.Readings, r)
		}
		for _, n := range t.gws[id].sitesOf {
			names := make([]string, 0, len(n.points))
			for name := range n.points {
				names = append(names, name)
			}
			slices.SortFunc(names, strings.Compare)
			if e, ok := n.points["import_energy"]; ok {
				// The window's older counter readings first: they
				// rebuild the energy indicator.
				for _, s := range n.energy.samples {
					if s.t.Before(e.time) {
						add(wire.Reading{Device: n.site.Device, Point: "import_energy", Value: wire.Float(s.v), Unit: e.unit, Time: s.t})
					}
				}
			}
			for _, name := range names {
				p := n.points[name]
				add(wire.Reading{Device: n.site.Device, Point: name, Value: p.value, Unit: p.unit, Time: p.time})
			}
		}
	}
	return cp
}

// Restore makes the twin a replica holding cp (see Follow): its readings
// are applied as batches are, at the twin's clock, without counting as
// the gateways heard of. Readings of devices no site places are ignored.
// Call it on a new twin, before serving subscribers.
func (t *Twin) Restore(cp *Checkpoint) {
	now := t.cfg.Now()
	t.mu.Lock()
	defer t.unlock()
	t.follow(cp.Applied)
	for _, b := range cp.Batches {
		if b != nil && len(b.Readings) > 0 {
			t.apply(b.Gateway, b, now, false)
		}
	}
}
