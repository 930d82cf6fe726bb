package modbus

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// Result is one point as Probe read it: the reading, and the point's raw
// bytes exactly as they came off the wire (2 per register, or the bit as
// one byte 0/1; nil when the read failed), for the CLI to print in hex.
type Result struct {
	Reading wire.Reading
	Raw     []byte
}

// device is a device instance with its plan and its polling state, owned by
// the bus goroutine that polls it.
type device struct {
	source.Device
	m   *profile.Modbus
	log *slog.Logger

	jobs     []*job
	lastReq  time.Time // end of the last request, for Profile.Modbus.Pause
	failures int       // consecutive failed polls
	retryAt  time.Time // not polled before this while failing

	seen      bool            // polled at least once
	state     string          // "" when the last poll worked, else its error kind
	badPoints map[string]bool // points whose last value failed to decode
}

// job is one poll class of a device: its requests and its schedule.
type job struct {
	class profile.PollClass
	reqs  []Request
	every time.Duration
	next  time.Time
}

// outcome sums up the requests of one poll.
type outcome struct {
	ok, failed int
	// err is the first failure, or the comm failure that ended the poll.
	err      *ReadError
	canceled bool
}

// broken reports whether the poll failed as a whole: the device is
// unreachable (timeout or comm error) or answered nothing but errors. Only
// then does the device go into backoff; an exception on one block of an
// otherwise working device is not a reason to read the rest less often.
func (o outcome) broken() bool {
	if o.err == nil {
		return false
	}
	return o.err.Kind == KindTimeout || o.err.Kind == KindComm || o.ok == 0
}

func newDevice(d source.Device, log *slog.Logger) *device {
	d = withDefaults(d)
	dev := &device{Device: d, m: d.Profile.Modbus, badPoints: map[string]bool{},
		log: log.With("device", d.Name, "address", d.Address, "unit", d.Unit)}
	for _, c := range []struct {
		class profile.PollClass
		every time.Duration
	}{{profile.PollFast, d.Interval}, {profile.PollSlow, d.SlowInterval}} {
		if reqs := Plan(dev.m, c.class); len(reqs) > 0 {
			dev.jobs = append(dev.jobs, &job{class: c.class, reqs: reqs, every: c.every})
		}
	}
	return dev
}

// readAll reads reqs from d over l, one after the other, and returns a
// Result per point. A timeout or comm error ends the poll: the points not
// read yet get the same bad reading instead of one timeout each. With
// keepRaw each Result's Raw is a copy of its bytes (Probe prints them);
// without, Raw is nil: a link's reply is valid only until its next read,
// and a poll keeps nothing of it but the readings.
func readAll(ctx context.Context, l link, d *device, reqs []Request, out []Result, keepRaw bool) ([]Result, outcome) {
	var o outcome
	for i := range reqs {
		r := &reqs[i]
		if !d.waitPause(ctx) {
			o.canceled = true
			return out, o
		}
		data, err := l.read(ctx, d.Unit, d.Timeout, r)
		d.lastReq = time.Now()
		if err == nil && len(data) != r.ReplyLen() {
			err = &ReadError{Kind: KindDecode, Err: fmt.Errorf("reply has %d data bytes, expected %d", len(data), r.ReplyLen())}
		}
		if err != nil {
			if ctx.Err() != nil {
				o.canceled = true
				return out, o
			}
			re := d.readError(r, err)
			o.failed++
			if re.Kind == KindTimeout || re.Kind == KindComm {
				l.reset()
				for j := i; j < len(reqs); j++ {
					out = appendBad(out, d, &reqs[j], d.lastReq, re)
				}
				o.err = re
				return out, o
			}
			if o.err == nil {
				o.err = re
			}
			out = appendBad(out, d, r, d.lastReq, re)
			continue
		}
		o.ok++
		for _, s := range r.Slots {
			raw, _ := r.Raw(data, s) // the length was checked above
			rd := wire.Reading{Device: d.Name, Point: s.Point.Name, Unit: s.Point.Unit, Time: d.lastReq}
			v, err := Decode(s.Point, d.m.EffectiveOrder(s.Point), raw)
			rd.Value = v
			if ve, ok := err.(*ValueError); ok {
				rd.Quality, rd.Reason = ve.Quality, ve.Error()
			}
			if keepRaw {
				raw = bytes.Clone(raw)
			} else {
				raw = nil
			}
			out = append(out, Result{Reading: rd, Raw: raw})
		}
	}
	return out, o
}

// readError wraps a failed read with the device, request and kind.
func (d *device) readError(r *Request, err error) *ReadError {
	if re, ok := err.(*ReadError); ok { // a reply of the wrong length
		re.Device, re.Address, re.Unit, re.Request = d.Name, d.Address, d.Unit, r.String()
		return re
	}
	kind, cause := classify(err)
	return &ReadError{Device: d.Name, Address: d.Address, Unit: d.Unit, Request: r.String(), Kind: kind, Err: cause}
}

func appendBad(out []Result, d *device, r *Request, at time.Time, re *ReadError) []Result {
	for _, s := range r.Slots {
		out = append(out, Result{Reading: wire.Reading{Device: d.Name, Point: s.Point.Name, Unit: s.Point.Unit,
			Time: at, Quality: re.Quality(), Reason: re.Error()}})
	}
	return out
}

// waitPause waits out the profile's pause since the device's last request;
// false if ctx ended first.
func (d *device) waitPause(ctx context.Context) bool {
	wait := time.Until(d.lastReq.Add(d.m.Pause.D()))
	if wait <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
