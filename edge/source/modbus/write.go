package modbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/goburrow/modbus"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// Writes (issue 16). A command's write goes through the bus goroutine
// that polls the device, between two polls, so a write never interleaves
// with a read on a shared RTU line or TCP connection: the bus runs one
// operation at a time. The settle time is waited outside the bus (the
// other devices keep being polled), then the read-back is one more
// operation on the bus, decoded exactly as a poll decodes it.
//
// A write is never retried: a TCP connection that fails under a write may
// have delivered it, and the command reports failed rather than writing
// twice.

var _ source.Writer = (*Source)(nil)

// writeOp is one write: registers (FC 06 for one, FC 16 for several) or a
// coil (FC 05).
type writeOp struct {
	table profile.Table
	addr  uint16
	regs  []uint16
	coil  bool
	// multiple sends FC 16 even for one register.
	multiple bool
}

func (w *writeOp) String() string {
	if w.table == profile.TableCoil {
		return fmt.Sprintf("write coil %d = %t", w.addr, w.coil)
	}
	return fmt.Sprintf("write holding %d+%d", w.addr, len(w.regs))
}

// writeWith issues w's function code on c; goburrow checks the echo.
func writeWith(c modbus.Client, w *writeOp) error {
	var err error
	switch {
	case w.table == profile.TableCoil:
		v := uint16(0)
		if w.coil {
			v = 0xFF00
		}
		_, err = c.WriteSingleCoil(w.addr, v)
	case len(w.regs) == 1 && !w.multiple:
		_, err = c.WriteSingleRegister(w.addr, w.regs[0])
	default:
		b := make([]byte, 2*len(w.regs))
		for i, r := range w.regs {
			binary.BigEndian.PutUint16(b[2*i:], r)
		}
		_, err = c.WriteMultipleRegisters(w.addr, uint16(len(w.regs)), b)
	}
	return err
}

// WritePoint writes req.Value to a coil or holding point of one of the
// source's devices, waits the point's settle time, reads the read-back
// point and returns its value. It waits for the device's bus, which runs
// only while Run does; ctx bounds the whole call. An error wraps the
// device and the operation; ErrUnknownDevice for a device the source does
// not poll; source.ErrExpired when req.Expires passed (by the wall clock)
// before the bus could send the write, which is then never sent.
func (s *Source) WritePoint(ctx context.Context, req source.WriteRequest) (float64, error) {
	v, err := s.write(ctx, req, func(d *device, p *profile.ModbusPoint, op *writeOp) (err error) {
		switch p.Table {
		case profile.TableCoil:
			op.coil, err = profile.EncodeCoil(p, req.Value)
		default:
			op.regs, err = profile.EncodeRegisters(p, d.m.EffectiveOrder(p), req.Value)
		}
		return err
	})
	if err != nil || v == nil {
		return 0, err
	}
	f, ok := v.AsFloat()
	if !ok {
		return 0, fmt.Errorf("modbus read-back %s.%s: value %s is not a number", req.Device, req.Point, v)
	}
	return f, nil
}

var _ source.TextWriter = (*Source)(nil)

// WriteText writes req.Text to a holding string point with FC 16 (the
// registers the text and its ending NUL take: profile.EncodeText), waits the
// settle time and reads the point back, returning the text read (NULs
// trimmed, as a poll decodes it). When the rules say the device cannot be
// read back, it returns readable false once the device acknowledged the
// write. Errors as WritePoint's.
func (s *Source) WriteText(ctx context.Context, req source.WriteRequest) (string, bool, error) {
	v, err := s.write(ctx, req, func(_ *device, p *profile.ModbusPoint, op *writeOp) (err error) {
		op.regs, err = profile.EncodeText(p, req.Text)
		op.multiple = true // the manual's function for a text (10h), even for one register
		return err
	})
	if err != nil || v == nil {
		return "", false, err
	}
	return v.S, true, nil
}

// write encodes req with encode, writes it on the device's bus and, unless
// the rules say the device cannot be read back (then nil), returns the
// read-back point's value.
func (s *Source) write(ctx context.Context, req source.WriteRequest, encode func(*device, *profile.ModbusPoint, *writeOp) error) (*wire.Value, error) {
	b, d := s.find(req.Device)
	if d == nil {
		return nil, fmt.Errorf("modbus write %s.%s: %w", req.Device, req.Point, source.ErrUnknownDevice)
	}
	p := d.point(req.Point)
	if p == nil {
		return nil, fmt.Errorf("modbus write %s: profile %s has no point %s", req.Device, d.Profile.ID(), req.Point)
	}
	op := &writeOp{table: p.Table, addr: p.Address}
	if err := encode(d, p, op); err != nil {
		return nil, fmt.Errorf("modbus write %s: %w", req.Device, err)
	}
	err := b.do(ctx, func(l link) error {
		if !d.waitPause(ctx) {
			return ctx.Err()
		}
		// Checked again on the bus, right before the request goes out:
		// the write may have waited for polls and a device's pause.
		if !req.Expires.IsZero() && time.Now().After(req.Expires) {
			return fmt.Errorf("expires %s: %w", req.Expires.UTC().Format(time.RFC3339), source.ErrExpired)
		}
		err := l.write(ctx, d.Unit, d.Timeout, op)
		d.lastReq = time.Now()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("modbus %s to %s unit %d (%s): %w", op, req.Device, d.Unit, d.Address, err)
	}
	d.log.Info("modbus point written", "point", p.Name, "value", req.Value, "text", req.Text)
	var settle time.Duration
	rb := p
	if req.Rules != nil {
		if req.Rules.Text != nil && req.Rules.Text.NoReadback {
			return nil, nil
		}
		settle = req.Rules.Settle.D()
		if rb = d.point(req.Rules.ReadbackPoint(req.Point)); rb == nil {
			return nil, fmt.Errorf("modbus write %s: profile %s has no read-back point %s", req.Device, d.Profile.ID(), req.Rules.Readback)
		}
	}
	if settle > 0 {
		t := time.NewTimer(settle)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("modbus write %s.%s: written; settle: %w", req.Device, req.Point, ctx.Err())
		case <-t.C:
		}
	}
	v, err := b.readBack(ctx, d, rb)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// readBack reads point p of d once, on the bus, decoded as a poll decodes.
func (b *bus) readBack(ctx context.Context, d *device, p *profile.ModbusPoint) (wire.Value, error) {
	r := Request{Table: p.Table, Address: p.Address, Count: p.Registers(), Slots: []Slot{{Point: p}}}
	var res []Result
	var o outcome
	err := b.do(ctx, func(l link) error {
		res, o = readAll(ctx, l, d, []Request{r}, nil, true)
		return nil
	})
	switch {
	case err != nil:
		return wire.Value{}, fmt.Errorf("modbus read-back %s.%s: %w", d.Name, p.Name, err)
	case o.canceled:
		return wire.Value{}, fmt.Errorf("modbus read-back %s.%s: %w", d.Name, p.Name, ctx.Err())
	case o.err != nil:
		return wire.Value{}, fmt.Errorf("modbus read-back: %w", o.err)
	case len(res) != 1 || res[0].Reading.Reason != "":
		return wire.Value{}, fmt.Errorf("modbus read-back %s.%s: %s", d.Name, p.Name, res[0].Reading.Reason)
	}
	return res[0].Reading.Value, nil
}

// errNotRunning is what a write waiting for its bus gets when ctx ends
// before the bus took it (the source is not running, or is busy).
var errNotRunning = errors.New("the device's bus did not take the operation (source not running?)")

// busOp is an operation the bus goroutine runs between two polls.
type busOp struct {
	fn   func(link) error
	done chan error
}

// do runs fn on the bus goroutine and returns its error. If ctx ends
// before the bus took fn, fn never runs.
func (b *bus) do(ctx context.Context, fn func(link) error) error {
	op := busOp{fn: fn, done: make(chan error, 1)}
	select {
	case b.ops <- op:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", errNotRunning, ctx.Err())
	}
	return <-op.done // the bus runs a taken op to its end
}

// runOp runs op on the bus goroutine.
func (b *bus) runOp(op busOp) {
	op.done <- op.fn(b.link)
}

// find returns the bus and device named name, or nils.
func (s *Source) find(name string) (*bus, *device) {
	for _, b := range s.buses {
		for _, d := range b.devs {
			if d.Name == name {
				return b, d
			}
		}
	}
	return nil, nil
}

// point returns the profile's point named name, or nil.
func (d *device) point(name string) *profile.ModbusPoint {
	for i := range d.m.Points {
		if d.m.Points[i].Name == name {
			return &d.m.Points[i]
		}
	}
	return nil
}
