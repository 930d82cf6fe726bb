package serial

import (
	"context"
	"fmt"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
)

// Writes (issue 16). The device's goroutine owns its port; WritePoint
// hands it a writeOp and waits. The goroutine takes the op between two
// reads (a read returns at least every readTimeout) or between two polls,
// and serves it with its own read loop: it writes the command line, keeps
// reading for the settle time, writes the read-back request, and reads
// until a line matches the request's match expression or its timeout
// passes. Every byte it reads also goes through the device's decoder
// exactly as in listen or poll, so the device's data frames keep turning
// into readings during a write and none is lost or cut: the answer is
// looked for in a second, terminator-only framing of the same bytes, fed
// only from the moment the read-back request is sent (so the device's echo
// of the command, or a line already on its way, is not taken for it).
//
// The answer line itself reaches the decoder too: in start/end framing
// (NMEA's "$") it is noise before a start, skipped; in terminator framing
// it is a frame no record matches, counted as unmatched. A late answer to
// an earlier write that timed out could be taken for the next write's
// answer; the match expression should be specific to the answer (the
// profile loader refuses one that matches the command's own line).

// writeOp is one write handed to a device's goroutine.
type writeOp struct {
	ctx    context.Context // the caller's: the op ends when it does
	req    *profile.SerialRequest
	value  float64
	settle time.Duration
	done   chan writeResult // buffered: the goroutine never waits on it
}

type writeResult struct {
	readback float64
	err      error
}

func (op *writeOp) finish(v float64, err error) { op.done <- writeResult{v, err} }

var _ source.Writer = (*Source)(nil)

// WritePoint implements source.Writer for the profiles' serial.requests:
// it writes the command line on the device's port, waits the settle time,
// asks for the setting and returns the value the answer carries. It fails
// when the port is not open (the device is failing), the answer does not
// come within the request's timeout, or ctx ends.
func (s *Source) WritePoint(ctx context.Context, req source.WriteRequest) (float64, error) {
	var d *device
	for _, dev := range s.devices {
		if dev.name == req.Device {
			d = dev
		}
	}
	if d == nil {
		return 0, fmt.Errorf("serial source: device %s: %w", req.Device, source.ErrUnknownDevice)
	}
	r := d.requests[req.Point]
	if r == nil {
		return 0, fmt.Errorf("serial device %s: %s is not a request of its profile (serial.requests)", d.name, req.Point)
	}
	if !d.isOpen.Load() {
		return 0, fmt.Errorf("serial device %s: port %s is not open: not written", d.name, d.line.Path)
	}
	rules := req.Rules
	if rules == nil {
		rules = &r.Write
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("serial device %s: %s not written: %w", d.name, req.Point, err)
	}
	op := &writeOp{ctx: ctx, req: r, value: req.Value, settle: rules.Settle.D(), done: make(chan writeResult, 1)}
	select {
	case d.writes <- op:
	case <-ctx.Done():
		return 0, fmt.Errorf("serial device %s: %s not written: %w", d.name, req.Point, ctx.Err())
	}
	select {
	case res := <-op.done:
		if res.err != nil {
			return 0, fmt.Errorf("serial device %s: %s: %w", d.name, req.Point, res.err)
		}
		return res.readback, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("serial device %s: %s: no read-back before the command's time ran out (the line may have been sent): %w", d.name, req.Point, ctx.Err())
	}
}

// initWrites prepares the device's writable requests.
func (d *device) initWrites(s *profile.Serial) error {
	d.writes = make(chan *writeOp)
	d.requests = map[string]*profile.SerialRequest{}
	for i := range s.Requests {
		r := &s.Requests[i]
		if r.Line == nil || r.Readback.MatchRe == nil {
			return fmt.Errorf("request %s: not validated (load the profile with profile.Load)", r.Name)
		}
		d.requests[r.Name] = r
	}
	term := s.Framing.Terminator
	if term == "" {
		term = s.Framing.End
	}
	d.answerFraming = profile.Framing{Terminator: term, MaxLength: DefaultMaxLength}
	return nil
}

// pendingWrite returns a write waiting for the device, if any.
func (d *device) pendingWrite() *writeOp {
	select {
	case op := <-d.writes:
		return op
	default:
		return nil
	}
}

// serveWrite serves op on the open port p (see the notes at the top of
// this file). It returns the number of valid data frames read meanwhile
// and a port error, which ends the session; the op's own failures go to
// the op.
func (d *device) serveWrite(ctx context.Context, p port, buf []byte, op *writeOp, emit source.Emitter) (frames int, err error) {
	log := d.log.With("point", op.req.Name, "value", op.value)
	if err := op.ctx.Err(); err != nil {
		op.finish(0, fmt.Errorf("not written: %w", err))
		return 0, nil
	}
	line, err := op.req.Line.Encode(op.value)
	if err != nil {
		op.finish(0, err)
		return 0, nil
	}
	if _, err := p.Write(line); err != nil {
		err = fmt.Errorf("write %q to %s: %w", line, d.line.Path, err)
		op.finish(0, err)
		return 0, err
	}
	log.Info("serial setting written", "line", profile.TrimLine(string(line)))
	answers, err := NewFramer(d.answerFraming)
	if err != nil {
		op.finish(0, err)
		return 0, nil
	}
	askAt := time.Now().Add(op.settle)
	var deadline time.Time
	asked := false
	for {
		if now := time.Now(); !asked && !now.Before(askAt) {
			if _, err := p.Write(op.req.ReadbackLine()); err != nil {
				err = fmt.Errorf("write read-back request %q to %s: %w", op.req.ReadbackLine(), d.line.Path, err)
				op.finish(0, err)
				return frames, err
			}
			asked, deadline = true, now.Add(op.req.AnswerTimeout())
		}
		n, _, rerr := d.read(p, buf)
		at := time.Now()
		var res *writeResult
		if n > 0 {
			frames += d.consume(buf[:n], at, emit, nil)
			if asked {
				answers.Feed(buf[:n], func(f []byte) {
					if v, ok, perr := op.req.ParseAnswer(string(f)); ok && res == nil {
						res = &writeResult{v, perr}
					}
				})
			}
		}
		switch {
		case res != nil:
			log.Info("serial setting read back", "readback", res.readback, "error", res.err)
			op.finish(res.readback, res.err)
			return frames, rerr
		case rerr != nil:
			op.finish(0, rerr)
			return frames, rerr
		case ctx.Err() != nil:
			op.finish(0, fmt.Errorf("source stopped before the read-back: %w", ctx.Err()))
			return frames, nil
		case op.ctx.Err() != nil:
			op.finish(0, op.ctx.Err())
			return frames, nil
		case asked && !at.Before(deadline):
			err := fmt.Errorf("%w to the read-back request %q matching %s within %s", ErrTimeout,
				profile.TrimLine(string(op.req.ReadbackLine())), op.req.Readback.Match, op.req.AnswerTimeout())
			log.Warn("serial setting not read back", "error", err)
			op.finish(0, err)
			return frames, nil
		}
	}
}
