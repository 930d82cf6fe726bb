package serial

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// ProbeFactor times the device's reply timeout is how long Probe waits
// for every record (at least two of the device's Intervals).
const ProbeFactor = 10

// ErrIncomplete is returned by Probe when some records were never seen.
var ErrIncomplete = errors.New("records never seen")

// Result is one reading Probe read, with the frame it came from.
type Result struct {
	// Reading is the decoded reading, good or not.
	Reading wire.Reading
	// Raw is the frame as framed (framing bytes removed, checksum kept).
	Raw []byte
	// Record is the profile record that parsed the frame.
	Record string
}

// Probe opens the device's port and reads until every record of its
// profile has been seen once (and, after that, until the line goes quiet,
// so a multi-line reply is complete), for the technician's CLI. A
// request/response device is sent its command at once and again every
// reply timeout. Probe gives up after ProbeFactor reply timeouts (device
// Timeout, or the profile's, default 1s), or two Intervals if longer, or
// when ctx ends; it then returns what it read and an error wrapping
// ErrIncomplete that names the records never seen and what went wrong with
// the frames that did arrive. Rejected frames are logged at Warn on log
// (nil: discarded).
func Probe(ctx context.Context, dev source.Device, log *slog.Logger) ([]Result, error) {
	d, err := newDevice(dev, log, nil)
	if err != nil {
		return nil, err
	}
	timeout := cmp(dev.Timeout, DefaultReplyTimeout)
	if d.mode == profile.ModeRequestResponse {
		timeout = d.timeout
	}
	budget := max(ProbeFactor*timeout, 2*dev.Interval)
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	p, err := d.open()
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", d.name, err)
	}
	defer p.Close()

	var (
		results           []Result
		seen              = map[string]bool{}
		frames, framing   int
		rejected          = map[string]int{}
		buf               = make([]byte, readBuf)
		nextSend          time.Time
		requestResponse   = d.mode == profile.ModeRequestResponse
		allSeen, timedOut bool
	)
	for {
		if requestResponse && !allSeen && !time.Now().Before(nextSend) {
			if _, err := p.Write(d.command); err != nil {
				return results, fmt.Errorf("probe %s: write %q to %s: %w", d.name, d.command, d.line.Path, err)
			}
			nextSend = time.Now().Add(timeout)
		}
		n, quiet, err := d.read(p, buf)
		at := time.Now()
		st := d.dec.feed(buf[:n], at, func(ev *frameEvent) {
			frames++
			if ev.err != nil {
				rejected[errKind(ev.err)]++
				d.log.Warn("probe: frame rejected", "error", ev.err, "frame", string(ev.raw))
			}
			for _, r := range ev.readings {
				results = append(results, Result{Reading: r, Raw: bytes.Clone(ev.raw), Record: ev.record})
			}
			if ev.valid() {
				seen[ev.record] = true
			}
		})
		framing += st.Dropped()
		if err != nil {
			return results, fmt.Errorf("probe %s: %w", d.name, err)
		}
		allSeen = len(seen) == d.records
		timedOut = ctx.Err() != nil
		if allSeen && (quiet || timedOut) {
			return results, nil
		}
		if timedOut {
			break
		}
	}
	var missing []string
	for _, r := range d.dec.parser.records {
		if !seen[r.name] {
			missing = append(missing, r.name)
		}
	}
	var why []string
	for _, k := range []string{kindChecksum, kindUnmatched, kindDecode} {
		if rejected[k] > 0 {
			why = append(why, fmt.Sprintf("%d %s", rejected[k], k))
		}
	}
	if framing > 0 {
		why = append(why, fmt.Sprintf("%d framing", framing))
	}
	detail := "no errors"
	if len(why) > 0 {
		detail = "errors: " + strings.Join(why, ", ")
	}
	return results, fmt.Errorf("probe %s on %s: %w: %s (within %s; %d frames, %s)",
		d.name, d.line, ErrIncomplete, strings.Join(missing, ", "), budget, frames, detail)
}
