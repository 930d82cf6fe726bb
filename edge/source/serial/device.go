package serial

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// Timing defaults.
const (
	// DefaultPollInterval is the poll interval of a request/response device
	// whose Interval is 0.
	DefaultPollInterval = 10 * time.Second
	// DefaultReplyTimeout is how long a reply may take when neither the
	// device's Timeout nor the profile's request timeout says.
	DefaultReplyTimeout = time.Second
	// DefaultSilence is how long a free-running device whose Interval is 0
	// may stay silent before it counts as failing.
	DefaultSilence = time.Minute
	// SilenceIntervals is how many of its Intervals a free-running device
	// may stay silent before it counts as failing.
	SilenceIntervals = 3
)

// Device-level errors; the source logs and counts them, never returns them.
var (
	// ErrTimeout marks a request that got no valid reply in time.
	ErrTimeout = errors.New("no reply")
	// ErrSilent marks a free-running device that sent no valid frame for
	// SilenceIntervals of its Interval.
	ErrSilent = errors.New("device silent")
)

// stateInit is the log state before a device has worked or failed.
const stateInit = "\x00init"

// device is one serial device: its settings, its decoder and its state.
// Only the device's own goroutine touches it (eofs, isOpen and the writes
// channel excepted).
type device struct {
	name     string
	line     source.SerialLine
	mode     string
	command  []byte
	interval time.Duration // poll interval (request/response)
	timeout  time.Duration // reply timeout (request/response)
	silence  time.Duration // allowed silence (free-running)
	records  int
	dec      *decoder
	log      *slog.Logger
	m        *source.Metrics

	points   []point // every point the device is known to have, for bad_comm readings
	pointIdx map[string]bool
	comm     []wire.Reading // scratch for bad_comm readings
	state    string         // the last logged state: "" ok, else the error

	eofs atomic.Int64 // reads that ended in tarm/serial's read-timeout io.EOF

	// Writes (write.go): WritePoint hands ops to the goroutine on writes.
	writes        chan *writeOp
	requests      map[string]*profile.SerialRequest
	answerFraming profile.Framing
	isOpen        atomic.Bool // the port is open (a write may be served)
}

type point struct{ name, unit string }

// newDevice checks d and prepares it; log and m may be nil (validation only).
func newDevice(d source.Device, log *slog.Logger, m *source.Metrics) (*device, error) {
	dev, err := buildDevice(d, log, m)
	if err != nil {
		name := d.Name
		if name == "" {
			name = "(unnamed)"
		}
		return nil, fmt.Errorf("serial device %s: %w", name, err)
	}
	return dev, nil
}

func buildDevice(d source.Device, log *slog.Logger, m *source.Metrics) (*device, error) {
	if d.Name == "" {
		return nil, errors.New("no name")
	}
	if d.Profile == nil || d.Profile.Serial == nil {
		return nil, errors.New("profile is not a serial profile")
	}
	s := d.Profile.Serial
	if !strings.HasPrefix(d.Address, "serial:") {
		return nil, fmt.Errorf("address %q: expected serial:///dev/ttyX?baud=9600", d.Address)
	}
	line, err := source.ParseSerialURL(d.Address, source.SerialLine{Baud: s.Baud, DataBits: s.DataBits, Parity: s.Parity, StopBits: s.StopBits})
	if err != nil {
		return nil, err
	}
	if d.Interval < 0 || d.Timeout < 0 {
		return nil, fmt.Errorf("interval %s and timeout %s must not be negative", d.Interval, d.Timeout)
	}
	dec, err := newDecoder(d.Name, s)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", d.Profile.Model, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dev := &device{
		name: d.Name, line: line, mode: s.Mode, records: len(s.Records), dec: dec, m: m,
		log:      log.With("device", d.Name, "port", line.Path),
		pointIdx: map[string]bool{}, state: stateInit,
	}
	switch s.Mode {
	case "", profile.ModeFreeRunning:
		dev.mode = profile.ModeFreeRunning
		dev.silence = DefaultSilence
		if d.Interval > 0 {
			dev.silence = SilenceIntervals * d.Interval
		}
	case profile.ModeRequestResponse:
		if s.Request == nil || s.Request.Command == "" {
			return nil, errors.New("request_response mode needs a request command")
		}
		dev.command = []byte(s.Request.Command)
		dev.interval = cmp(d.Interval, DefaultPollInterval)
		dev.timeout = cmp(d.Timeout, cmp(s.Request.Timeout.D(), DefaultReplyTimeout))
	default:
		return nil, fmt.Errorf("mode %q (expected free_running or request_response)", s.Mode)
	}
	if err := dev.initWrites(s); err != nil {
		return nil, err
	}
	dev.learnExamples(s)
	return dev, nil
}

// cmp returns v, or def when v is 0.
func cmp(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// learnExamples seeds the device's point list from the records' example
// frames, so a device that never answered still gets bad_comm readings
// under the names it will use; records without a usable example add the
// fields whose names have no placeholders.
func (d *device) learnExamples(s *profile.Serial) {
	for i := range s.Records {
		rs := d.examplePoints(&s.Records[i], s.Checksum.Kind)
		if rs == nil {
			for _, f := range d.dec.parser.records[i].fields {
				if name, ok := f.static(); ok {
					d.learn([]wire.Reading{{Point: name, Unit: f.unit}})
				}
			}
		}
		d.learn(rs)
	}
}

func (d *device) examplePoints(r *profile.Record, sum string) []wire.Reading {
	if r.Example == "" {
		return nil
	}
	data, err := verifyChecksum(sum, []byte(r.Example))
	if err != nil {
		data = []byte(r.Example)
	}
	rs, name, err := d.dec.parser.parseLine(string(data), time.Time{}, nil)
	if err != nil || name != r.Name {
		return nil
	}
	return rs
}

// learn adds the points of rs not seen before.
func (d *device) learn(rs []wire.Reading) {
	for _, r := range rs {
		if !d.pointIdx[r.Point] {
			d.pointIdx[r.Point] = true
			d.points = append(d.points, point{r.Point, r.Unit})
		}
	}
}

// setState logs a change of state: Warn when the device starts failing or
// fails differently, Info when it works (again).
func (d *device) setState(err error) {
	s := ""
	if err != nil {
		s = err.Error()
	}
	if s == d.state {
		return
	}
	prev := d.state
	d.state = s
	switch {
	case err != nil:
		d.log.Warn("serial device failing", "error", err)
	case prev == stateInit:
		d.log.Info("serial device reading", "line", d.line.String(), "mode", d.mode)
	default:
		d.log.Info("serial device recovered", "was", prev)
	}
}

// fail records a device-level failure: logged on change, counted under
// kind, and a bad_comm reading for every known point.
func (d *device) fail(emit source.Emitter, at time.Time, kind string, err error) {
	if d.m != nil {
		d.m.Error(d.name, kind)
		d.m.Success.WithLabelValues(d.name).Set(0)
	}
	d.setState(err)
	d.failReadings(emit, at, err)
}

// failReadings emits a bad_comm reading for every known point.
func (d *device) failReadings(emit source.Emitter, at time.Time, err error) {
	d.comm = d.comm[:0]
	for _, p := range d.points {
		d.comm = append(d.comm, wire.Reading{Device: d.name, Point: p.name, Unit: p.unit, Time: at,
			Quality: wire.QualityBadComm, Reason: err.Error()})
	}
	d.emit(emit, d.comm)
}

// emit counts readings by quality and hands them on. A serial device has
// no acknowledgement to send: the Commit is dropped, and the read loop
// never waits on it.
func (d *device) emit(emit source.Emitter, rs []wire.Reading) {
	if len(rs) == 0 {
		return
	}
	if d.m != nil {
		for _, r := range rs {
			d.m.Readings.WithLabelValues(d.name, r.Quality.String()).Inc()
		}
	}
	emit(rs)
}

// consume feeds a chunk read at time at through the decoder, emits the
// readings of every frame, counts frame errors, and calls valid with the
// record name of each frame that passed its checksum and matched a record.
// It returns the number of such frames.
func (d *device) consume(p []byte, at time.Time, emit source.Emitter, valid func(record string)) int {
	n := 0
	st := d.dec.feed(p, at, func(ev *frameEvent) {
		if ev.err != nil {
			kind := errKind(ev.err)
			if d.m != nil {
				d.m.Error(d.name, kind)
			}
			d.log.Debug("serial frame rejected", "kind", kind, "error", ev.err, "frame", string(ev.raw))
		}
		if len(ev.readings) > 0 {
			d.learn(ev.readings)
			d.emit(emit, ev.readings)
		}
		if ev.valid() {
			n++
			if d.m != nil {
				d.m.Good(d.name, at)
			}
			if valid != nil {
				valid(ev.record)
			}
		}
	})
	if dropped := st.Dropped(); dropped > 0 {
		if d.m != nil {
			d.m.Errors.WithLabelValues(d.name, kindFraming).Add(float64(dropped))
		}
		d.log.Debug("serial frames dropped", "overlong", st.Overflow, "broken", st.Broken)
	}
	if st.Noise > 0 {
		d.log.Debug("serial noise skipped", "bytes", st.Noise)
	}
	return n
}
