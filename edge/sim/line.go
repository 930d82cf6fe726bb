package sim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// LineDevice simulates a device talking text frames on a serial line. It
// builds each frame from the record's Example: every field's text is
// replaced by the simulated value, formatted like the example's text
// (same decimals, same width and padding), and the checksum is computed
// again. Frames therefore look like the real device's, byte for byte,
// except for the values. Safe for concurrent use.
type LineDevice struct {
	ser     *profile.Serial
	gen     Generator
	records []lineRecord

	mu       sync.Mutex
	fault    Fault
	clock    func() time.Time
	settings []*lineSetting // line_settings.go
}

type lineRecord struct {
	example string
	fields  []lineField // sorted by start
}

// lineField is where a field's text sits in the example and how it looks.
type lineField struct {
	f          *profile.Field
	name       string
	start, end int
	pat        Pattern
	format     textFormat
}

// NewLineDevice prepares the profile's records for simulation; seed picks
// the value series.
func NewLineDevice(p *profile.Profile, seed int64) (*LineDevice, error) {
	if p == nil || p.Serial == nil {
		return nil, fmt.Errorf("line device: profile has no serial section")
	}
	d := &LineDevice{ser: p.Serial, gen: NewGenerator(seed), clock: time.Now}
	for i := range p.Serial.Records {
		r := &p.Serial.Records[i]
		lr, err := prepareRecord(p.Category, p.Serial.Checksum, r)
		if err != nil {
			return nil, fmt.Errorf("line device %s record %q: %w", p.Model, r.Name, err)
		}
		d.records = append(d.records, lr)
	}
	var err error
	if d.settings, err = newSettings(p.Serial); err != nil {
		return nil, fmt.Errorf("line device %s: %w", p.Model, err)
	}
	return d, nil
}

// withExample returns a copy of r whose Example is data.
func withExample(r *profile.Record, data string) *profile.Record {
	c := *r
	c.Example = data
	return &c
}

var placeholder = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// prepareRecord finds the fields in the record's example. As in Ponte's
// decoder, the regex or the columns apply to the frame's data, the
// example without its checksum.
func prepareRecord(cat wire.Category, cs profile.Checksum, r *profile.Record) (lineRecord, error) {
	data, err := cs.Verify(r.Example)
	if err != nil {
		return lineRecord{}, fmt.Errorf("example %q: %w", r.Example, err)
	}
	lr := lineRecord{example: data}
	r = withExample(r, data)
	var groups map[string][2]int
	if r.Delimiter == "" {
		re := r.Re
		if re == nil {
			var err error
			if re, err = regexp.Compile(r.Regex); err != nil {
				return lr, fmt.Errorf("regex: %w", err)
			}
		}
		m := re.FindStringSubmatchIndex(r.Example)
		if m == nil {
			return lr, fmt.Errorf("example %q does not match the regex", r.Example)
		}
		groups = map[string][2]int{}
		for gi, name := range re.SubexpNames() {
			if name != "" && m[2*gi] >= 0 {
				groups[name] = [2]int{m[2*gi], m[2*gi+1]}
			}
		}
	}
	cols := columnSpans(r.Example, r.Delimiter)
	for i := range r.Fields {
		f := &r.Fields[i]
		var sp [2]int
		if r.Delimiter == "" {
			g, ok := groups[f.Group]
			if !ok {
				return lr, fmt.Errorf("field %q: group %q not in the example", f.Name, f.Group)
			}
			sp = g
		} else {
			if f.Column == nil || *f.Column >= len(cols) {
				return lr, fmt.Errorf("field %q: column missing from the example", f.Name)
			}
			sp = cols[*f.Column]
		}
		name := placeholder.ReplaceAllStringFunc(f.Name, func(ph string) string {
			if g, ok := groups[ph[1:len(ph)-1]]; ok {
				return r.Example[g[0]:g[1]]
			}
			return ph
		})
		text := r.Example[sp[0]:sp[1]]
		lr.fields = append(lr.fields, lineField{
			f: f, name: name, start: sp[0], end: sp[1],
			pat:    PatternFor(PointInfo{Category: cat, Name: name, Unit: f.Unit, Type: f.Type, Range: f.Range, Sim: f.Sim}),
			format: parseTextFormat(text),
		})
	}
	// Replace from the end so earlier spans stay valid; overlapping
	// fields (one group inside another) keep the outer text.
	sortFields(lr.fields)
	return lr, nil
}

func sortFields(fs []lineField) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].start < fs[j-1].start; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// columnSpans returns the byte spans of the delimited columns.
func columnSpans(s, delim string) [][2]int {
	if delim == "" {
		return nil
	}
	var out [][2]int
	start := 0
	for {
		i := strings.Index(s[start:], delim)
		if i < 0 {
			return append(out, [2]int{start, len(s)})
		}
		out = append(out, [2]int{start, start + i})
		start += i + len(delim)
	}
}

// SetFault sets the device's fault: FaultGarbage sends noise between
// frames and corrupts some frames; FaultTimeout makes it stop talking;
// the others change nothing on a serial line.
func (d *LineDevice) SetFault(f Fault) {
	d.mu.Lock()
	d.fault = f
	d.mu.Unlock()
}

// SetClock replaces the clock Serve reads the time from (default
// time.Now), for a simulated clock running faster than the real one.
func (d *LineDevice) SetClock(now func() time.Time) {
	d.mu.Lock()
	d.clock = now
	d.mu.Unlock()
}

func (d *LineDevice) state() (Fault, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fault, d.clock()
}

// Records returns the number of records; Frame takes 0..Records()-1.
func (d *LineDevice) Records() int { return len(d.records) }

// Frame returns record's frame at now, with framing bytes and checksum.
// An out-of-range record returns nil.
func (d *LineDevice) Frame(record int, now time.Time) []byte {
	if record < 0 || record >= len(d.records) {
		return nil
	}
	r := &d.records[record]
	text := r.example
	for i := len(r.fields) - 1; i >= 0; i-- {
		lf := &r.fields[i]
		if i+1 < len(r.fields) && lf.end > r.fields[i+1].start {
			continue // nested group: its text is part of a replaced one
		}
		text = text[:lf.start] + d.fieldText(lf, now) + text[lf.end:]
	}
	text = d.ser.Checksum.Append(text)
	var b bytes.Buffer
	f := d.ser.Framing
	if f.Start != "" || f.End != "" {
		b.WriteString(f.Start)
		b.WriteString(text)
		b.WriteString(f.End)
	} else {
		b.WriteString(text)
		b.WriteString(f.Terminator)
	}
	return b.Bytes()
}

func (d *LineDevice) fieldText(lf *lineField, now time.Time) string {
	f := lf.f
	switch f.Type {
	case profile.TypeString:
		return lf.format.example
	case profile.TypeBool:
		return lf.format.boolText(d.gen.Value(lf.name, lf.pat, now) >= 0.5)
	}
	v := d.gen.Value(lf.name, lf.pat, now)
	raw := v - f.Offset
	if f.Scale != 0 {
		raw /= f.Scale
	}
	return lf.format.number(raw)
}

// Serve talks on port until ctx is done, then returns nil. A free-running
// device sends every record's frame each interval (a record paced by a
// setting, every value seconds: line_settings.go) and answers its
// settings' request lines; a request/response device waits for the
// profile's command and answers with every record's frame. As with
// ServeRTU, a read may stay blocked after Serve returns until the caller
// closes the port.
func (d *LineDevice) Serve(ctx context.Context, port io.ReadWriter, interval time.Duration) error {
	if d.ser.Mode == profile.ModeRequestResponse && d.ser.Request != nil {
		return d.serveRequests(ctx, port)
	}
	if interval <= 0 {
		return fmt.Errorf("line device: interval %v: expected a positive interval", interval)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var chunks chan []byte
	errc := make(chan error, 1)
	if len(d.settings) > 0 {
		chunks = make(chan []byte, 16)
		go readChunks(ctx, port, chunks, errc)
	}
	var lr lineReader
	last := make([]time.Time, len(d.records)) // zero: due now
	next := make([]time.Time, len(d.records))
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read serial line: %w", err)
		case b := <-chunks:
			if err := d.answer(&lr, b, port); err != nil {
				return err
			}
			// A changed interval counts from the record's last frame.
			for i := range next {
				if !last[i].IsZero() {
					next[i] = last[i].Add(d.period(i, interval))
				}
			}
		case <-timer.C:
			now := time.Now()
			var due []int
			for i := range next {
				if !now.Before(next[i]) {
					due = append(due, i)
					last[i], next[i] = now, now.Add(d.period(i, interval))
				}
			}
			if len(due) > 0 {
				if err := d.send(port, due); err != nil {
					return err
				}
			}
		}
		soonest := next[0]
		for _, t := range next {
			if t.Before(soonest) {
				soonest = t
			}
		}
		timer.Reset(max(0, time.Until(soonest)))
	}
}

func (d *LineDevice) serveRequests(ctx context.Context, port io.ReadWriter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan []byte, 16)
	errc := make(chan error, 1)
	go readChunks(ctx, port, chunks, errc)
	cmd := []byte(d.ser.Request.Command)
	var buf []byte
	var lr lineReader
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read serial line: %w", err)
		case b := <-chunks:
			if err := d.answer(&lr, b, port); err != nil {
				return err
			}
			buf = append(buf, b...)
			for {
				i := bytes.Index(buf, cmd)
				if i < 0 {
					break
				}
				buf = buf[i+len(cmd):]
				if err := d.send(port, nil); err != nil {
					return err
				}
			}
			if keep := len(cmd) - 1; len(buf) > keep {
				buf = append([]byte(nil), buf[len(buf)-keep:]...)
			}
		}
	}
}

// send writes the frames of records (every record when nil), as the
// fault allows.
func (d *LineDevice) send(port io.Writer, records []int) error {
	fault, now := d.state()
	if fault == FaultTimeout {
		return nil
	}
	if records == nil {
		for i := range d.records {
			records = append(records, i)
		}
	}
	var out []byte
	for _, i := range records {
		frame := d.Frame(i, now)
		if fault == FaultGarbage {
			out = append(out, d.noise(3+rand.IntN(10))...)
			if rand.IntN(2) == 0 && len(frame) > 2 {
				frame[rand.IntN(len(frame)-2)] ^= 0x20 // a flipped bit inside the frame
			}
		}
		out = append(out, frame...)
	}
	if _, err := port.Write(out); err != nil {
		return fmt.Errorf("write serial frames: %w", err)
	}
	return nil
}

// noise returns junk bytes without the framing's bytes, as a noisy line
// delivers: the junk must not open or end a frame by accident.
func (d *LineDevice) noise(n int) []byte {
	f := d.ser.Framing
	framing := f.Start + f.End + f.Terminator + "$"
	b := garbage(n)
	for i := range b {
		if strings.IndexByte(framing, b[i]) >= 0 {
			b[i] = '#'
		}
	}
	return b
}
