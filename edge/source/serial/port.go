package serial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/backoff"
	"github.com/ponte-city/ponte/internal/profile"
)

// readTimeout is the port's read timeout: tarm/serial's shortest (one
// VTIME decisecond). A read returns as soon as bytes arrive, or with
// io.EOF after this much silence; it bounds how late the source notices
// a cancelled context, a reply deadline or the end of a reply.
const readTimeout = 100 * time.Millisecond

// readBuf is the size of one read; a serial line at 115200 baud delivers
// about 1150 bytes in a read timeout.
const readBuf = 4096

// port is what the source needs of an open serial port (*tarm/serial.Port).
type port interface {
	io.ReadWriteCloser
	// Flush discards bytes received but not read.
	Flush() error
}

// open opens the device's port with its line settings.
func (d *device) open() (port, error) {
	p, err := source.OpenSerial(d.line, readTimeout)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// read reads once. tarm/serial reports a read timeout with no data as
// io.EOF, which on a serial line is not the end of anything: read turns it
// into quiet=true and a nil error.
func (d *device) read(p port, buf []byte) (n int, quiet bool, err error) {
	n, err = p.Read(buf)
	if errors.Is(err, io.EOF) {
		d.eofs.Add(1)
		return n, n == 0, nil
	}
	if err != nil {
		return n, false, fmt.Errorf("read %s: %w", d.line.Path, err)
	}
	return n, false, nil
}

// run reads the device until ctx is cancelled, reopening the port with
// backoff whenever it fails.
func (d *device) run(ctx context.Context, emit source.Emitter, base, max time.Duration) {
	attempt := 0
	for {
		worked, err := d.session(ctx, emit)
		if ctx.Err() != nil {
			return
		}
		if worked {
			attempt = 0
		}
		if err == nil {
			err = errors.New("port session ended") // not reached: sessions end with an error or ctx
		}
		d.fail(emit, time.Now(), kindComm, err)
		wait := backoff.Policy{Base: base, Max: max}.Wait(attempt)
		attempt++
		d.log.Debug("serial port retry", "in", wait, "attempt", attempt)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// session opens the port and reads it until ctx is cancelled (nil error)
// or the port fails. worked says whether any valid frame arrived.
func (d *device) session(ctx context.Context, emit source.Emitter) (worked bool, err error) {
	p, err := d.open()
	if err != nil {
		return false, err
	}
	defer p.Close()
	d.isOpen.Store(true)
	defer d.isOpen.Store(false)
	d.dec.framer.Reset()
	d.log.Debug("serial port open", "line", d.line.String())
	if d.mode == profile.ModeRequestResponse {
		return d.pollLoop(ctx, p, emit)
	}
	return d.listen(ctx, p, emit)
}

// listen reads a free-running device. Silence rule: if no valid frame
// (checksum passed, record matched) arrives for d.silence, the device is
// failing: logged once, counted once as comm, and one bad_comm reading per
// known point is emitted; the next valid frame ends the failure.
func (d *device) listen(ctx context.Context, p port, emit source.Emitter) (bool, error) {
	buf := make([]byte, readBuf)
	worked, silent := false, false
	last := time.Now()
	for ctx.Err() == nil {
		n, _, err := d.read(p, buf)
		at := time.Now()
		if n > 0 && d.consume(buf[:n], at, emit, nil) > 0 {
			worked, silent, last = true, false, at
			d.setState(nil)
		}
		if err != nil {
			return worked, err
		}
		if op := d.pendingWrite(); op != nil {
			frames, err := d.serveWrite(ctx, p, buf, op, emit)
			if at = time.Now(); frames > 0 {
				worked, silent, last = true, false, at
				d.setState(nil)
			}
			if err != nil {
				return worked, err
			}
		}
		if !silent && at.Sub(last) > d.silence {
			silent = true
			d.fail(emit, at, kindComm, fmt.Errorf("%w: no valid frame for %s", ErrSilent, d.silence))
		}
	}
	return worked, nil
}

// pollLoop polls a request/response device every d.interval.
func (d *device) pollLoop(ctx context.Context, p port, emit source.Emitter) (bool, error) {
	buf := make([]byte, readBuf)
	worked := false
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		ok, err := d.poll(ctx, p, buf, emit)
		worked = worked || ok
		if err != nil {
			return worked, err
		}
		for wait := true; wait; {
			select {
			case <-ctx.Done():
				return worked, nil
			case op := <-d.writes:
				frames, err := d.serveWrite(ctx, p, buf, op, emit)
				worked = worked || frames > 0
				if err != nil {
					return worked, err
				}
			case <-t.C:
				wait = false
			}
		}
	}
}

// poll sends the command and collects the reply. The reply is complete
// once a valid frame has arrived and the line then stays quiet for a read
// timeout: a reply may hold several frames of the same record (one per
// lane), so having seen every record does not end it. No valid frame within
// d.timeout is a timeout: counted, logged on change, and a bad_comm
// reading for every known point. Only port errors are returned.
func (d *device) poll(ctx context.Context, p port, buf []byte, emit source.Emitter) (bool, error) {
	start := time.Now()
	// Whatever arrived since the last poll (a late reply, noise) is stale.
	if err := p.Flush(); err != nil {
		return false, fmt.Errorf("flush %s: %w", d.line.Path, err)
	}
	d.dec.framer.Reset()
	if _, err := p.Write(d.command); err != nil {
		return false, fmt.Errorf("write %q to %s: %w", d.command, d.line.Path, err)
	}
	deadline := start.Add(d.timeout)
	frames := 0
	for {
		n, quiet, err := d.read(p, buf)
		at := time.Now()
		if n > 0 {
			frames += d.consume(buf[:n], at, emit, nil)
		}
		if err != nil {
			return frames > 0, err
		}
		switch {
		case frames > 0 && (quiet || !at.Before(deadline)):
			d.m.Poll(d.name, time.Since(start), nil, "")
			d.setState(nil)
			d.log.Debug("serial poll", "frames", frames, "took", time.Since(start))
			return true, nil
		case ctx.Err() != nil:
			return false, nil
		case !at.Before(deadline):
			err := fmt.Errorf("%w to %q within %s", ErrTimeout, d.command, d.timeout)
			d.m.Poll(d.name, time.Since(start), err, kindTimeout)
			d.setState(err)
			d.failReadings(emit, at, err)
			return false, nil
		}
	}
}
