package rsmp

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/wire"
)

// Result is one reading Probe read, with the status value it came from.
type Result struct {
	Reading wire.Reading
	// Raw is the value's string as the site sent it ("null" for null).
	Raw []byte
}

// Probe connects to dev's site, runs the Version exchange and one
// StatusRequest per component, for the technician's CLI, and returns a
// Result per status point. The error says why the site could not be read
// (a refused Version names both site IDs).
func Probe(ctx context.Context, dev source.Device, log *slog.Logger) ([]Result, error) {
	if err := checkDevice(dev); err != nil {
		return nil, fmt.Errorf("device %q: %w", dev.Name, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := newDevice(dev, log, nil)
	sess, err := d.connect(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", d.name, err)
	}
	defer sess.close()
	var out []Result
	for _, g := range d.groups() {
		m, err := sess.statuses(ctx, g.cid, g.refs)
		if err != nil {
			return out, fmt.Errorf("probe %s: StatusRequest to %s: %w", d.name, g.cid, err)
		}
		for _, st := range g.points {
			raw := []byte("missing")
			if v, ok := find(m.Values, st.SCI, st.N); ok {
				raw = []byte(v.Text)
				if v.Null {
					raw = []byte("null")
				}
			}
			out = append(out, Result{Reading: d.reading(st, m, time.Now()), Raw: raw})
		}
	}
	return out, nil
}
