package influx

import (
	"slices"

	"github.com/ponte-city/ponte/wire"
)

// maxLineFields bounds the readings one line carries, so that a device
// with thousands of points at one time still makes lines of a size
// InfluxDB handles well, and the check for a point already on the line
// stays cheap.
const maxLineFields = 256

// scanFields is the length up to which a line is searched for a point by
// scanning it; longer lines keep a set of their points.
const scanFields = 32

// encoder turns the readings of one Write call into a job's lines.
type encoder struct {
	// fallback is the measurement of devices whose type meta does not
	// know (Config.Measurement).
	fallback string
	meta     Meta
}

// encode turns readings into a job's lines; readings that cannot be
// written are in its rejected list. Readings next to each other of one
// device at one time share a line (one field each, as Telegraf writes a
// poll): the series and fields InfluxDB stores are those of a line per
// reading, since InfluxDB merges the fields of points with the same series
// and time. A point already on the line (a repeated reading) starts a new
// one, so that no line names a field twice.
func (e encoder) encode(gateway string, readings []wire.Reading) *job {
	j := &job{
		buf:      nil, // sized after the first line
		ends:     make([]int, 0, len(readings)/4+1),
		members:  make([]int, 0, len(readings)),
		mends:    make([]int, 0, len(readings)/4+1),
		readings: readings,
		gateway:  gateway,
		done:     make(chan struct{}),
	}
	var (
		lastDevice string
		key        []byte
		keyErr     string
		have       bool
		open       bool                // a line is begun in j.buf and not yet ended
		lineTime   int64               // its time, in nanoseconds
		lineStart  int                 // its first reading's offset in j.members
		points     map[string]struct{} // the line's points, once it is long
	)
	end := func() {
		if !open {
			return
		}
		j.buf = AppendTime(j.buf, readings[j.members[lineStart]].Time)
		j.ends = append(j.ends, len(j.buf))
		j.mends = append(j.mends, len(j.members))
		open = false
		clear(points)
	}
	for i := range readings {
		r := &readings[i]
		if !have || r.Device != lastDevice {
			end()
			area, typ := e.meta(gateway, r.Device)
			key, keyErr = AppendSeries(key[:0], SeriesFor(e.fallback, gateway, r.Device, area, typ))
			lastDevice, have = r.Device, true
		}
		if keyErr != "" {
			j.rejected = append(j.rejected, Rejected{Reading: *r, Reason: keyErr})
			continue
		}
		if why := checkReading(r); why != "" {
			j.rejected = append(j.rejected, Rejected{Reading: *r, Reason: why})
			continue
		}
		if open {
			line := j.members[lineStart:]
			var again bool
			if len(line) < scanFields {
				again = onLine(readings, line, r.Point)
			} else {
				if points == nil {
					points = make(map[string]struct{}, maxLineFields)
				}
				if len(points) == 0 {
					for _, k := range line {
						points[readings[k].Point] = struct{}{}
					}
				}
				_, again = points[r.Point]
			}
			if again || r.Time.UnixNano() != lineTime || len(line) >= maxLineFields {
				end()
			}
		}
		n := len(j.buf)
		if open {
			j.buf = append(j.buf, ',')
		} else {
			j.buf = append(j.buf, key...)
			j.buf = append(j.buf, ' ')
		}
		var why string
		if j.buf, why = appendField(j.buf, r); why != "" {
			j.buf = j.buf[:n]
			j.rejected = append(j.rejected, Rejected{Reading: *r, Reason: why})
			continue
		}
		if !open {
			open, lineTime, lineStart = true, r.Time.UnixNano(), len(j.members)
			if len(j.ends) == 0 {
				// Readings of a batch are alike: reserve room for the rest
				// at once instead of doubling (and copying) as they come.
				j.buf = slices.Grow(j.buf, (len(j.buf)+16)*(len(readings)-i))
			}
		}
		j.members = append(j.members, i)
		if len(points) > 0 {
			points[r.Point] = struct{}{}
		}
	}
	end()
	j.remaining = len(j.ends)
	return j
}

// onLine reports whether a reading of point is among the readings (by
// index in readings) of the line being built.
func onLine(readings []wire.Reading, line []int, point string) bool {
	for _, k := range line {
		if readings[k].Point == point {
			return true
		}
	}
	return false
}

// split returns a part of j: the readings of j's line i, one line each
// (see job). Its lines are new to the queue: they count against nothing
// but the line they replace.
func (e encoder) split(j *job, i int) *job {
	w := j.root()
	idx := j.lineReadings(i)
	p := &job{
		ends:     make([]int, 0, len(idx)),
		members:  make([]int, 0, len(idx)),
		mends:    make([]int, 0, len(idx)),
		readings: w.readings,
		gateway:  w.gateway,
		whole:    w,
	}
	var key []byte
	for _, k := range idx {
		r := &w.readings[k]
		area, typ := e.meta(w.gateway, r.Device)
		key, _ = AppendSeries(key[:0], SeriesFor(e.fallback, w.gateway, r.Device, area, typ))
		// The reading was encoded once already: it encodes again.
		p.buf = append(p.buf, key...)
		p.buf, _ = AppendFields(p.buf, r)
		p.ends = append(p.ends, len(p.buf))
		p.members = append(p.members, k)
		p.mends = append(p.mends, len(p.members))
	}
	p.remaining = len(p.ends)
	return p
}
