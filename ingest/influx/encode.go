package influx

import (
	"slices"

	"github.com/ponte-city/ponte/wire"
)

// encoder turns the readings of one Write call into a job's lines.
type encoder struct {
	// fallback is the measurement of devices whose type meta does not
	// know (Config.Measurement).
	fallback string
	meta     Meta
}

// encode turns readings into a job's lines; readings that cannot be
// written are in its rejected list.
func (e encoder) encode(gateway string, readings []wire.Reading) *job {
	j := &job{
		buf:      nil, // sized after the first line
		ends:     make([]int, 0, len(readings)),
		idx:      make([]int, 0, len(readings)),
		readings: readings,
		done:     make(chan struct{}),
	}
	var (
		lastDevice string
		key        []byte
		keyErr     string
		have       bool
	)
	for i := range readings {
		r := &readings[i]
		if !have || r.Device != lastDevice {
			area, typ := e.meta(gateway, r.Device)
			key, keyErr = AppendSeries(key[:0], SeriesFor(e.fallback, gateway, r.Device, area, typ))
			lastDevice, have = r.Device, true
		}
		if keyErr != "" {
			j.rejected = append(j.rejected, Rejected{Reading: *r, Reason: keyErr})
			continue
		}
		n := len(j.buf)
		j.buf = append(j.buf, key...)
		var why string
		if j.buf, why = AppendFields(j.buf, r); why != "" {
			j.buf = j.buf[:n]
			j.rejected = append(j.rejected, Rejected{Reading: *r, Reason: why})
			continue
		}
		if len(j.ends) == 0 {
			// Lines of a batch are alike: reserve room for the rest at once
			// instead of doubling (and copying) as they come.
			j.buf = slices.Grow(j.buf, (len(j.buf)+16)*(len(readings)-i))
		}
		j.ends = append(j.ends, len(j.buf))
		j.idx = append(j.idx, i)
	}
	j.remaining = len(j.ends)
	return j
}
