package sim

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
)

// Settings of a simulated serial device (issue 16): the profile's
// serial.requests. The device holds each setting's value (initially the
// write's safe value, else the value of the read-back example), answers
// the read-back request with the example answer carrying the value (the
// WXT530's "0WU" gets "0WU,R=01001000&00100100,I=5,...", user guide
// M211840EN-D 8.1.1.1), and takes a command line carrying a value its
// write rules allow: the value changes and the line is echoed, as the
// guide's examples of the settings commands show (8.1.1.3, and aXU in
// 7.x: "0XU,M=A,C=3,B=9600" answered with the same line). A value the
// rules refuse changes nothing and gets no answer: the guide documents
// no error message for a setting out of range (its text messages,
// 10.1.1, cover unknown commands, addresses and checksums). A setting
// with sets_interval paces its record: the device sends that record every
// value seconds instead of every Serve interval.

// lineSetting is one setting the device holds.
type lineSetting struct {
	req    *profile.SerialRequest
	value  float64
	record int // the record it paces, or -1
	// The example answer around its value group.
	before, after string
}

// newSettings prepares the profile's settings.
func newSettings(s *profile.Serial) ([]*lineSetting, error) {
	var out []*lineSetting
	for i := range s.Requests {
		r := &s.Requests[i]
		re := r.Readback.MatchRe
		if re == nil || r.Line == nil {
			return nil, fmt.Errorf("setting %s: profile not validated (load it with profile.Load)", r.Name)
		}
		m := re.FindStringSubmatchIndex(r.Readback.Example)
		g := re.SubexpIndex("value")
		if m == nil || m[2*g] < 0 {
			return nil, fmt.Errorf("setting %s: example %q does not match", r.Name, r.Readback.Example)
		}
		ls := &lineSetting{req: r, record: -1, before: r.Readback.Example[:m[2*g]], after: r.Readback.Example[m[2*g+1]:]}
		ls.value, _, _ = r.ParseAnswer(r.Readback.Example)
		if r.Write.Safe != nil {
			ls.value = *r.Write.Safe
		}
		for j := range s.Records {
			if s.Records[j].Name == r.SetsInterval {
				ls.record = j
			}
		}
		out = append(out, ls)
	}
	return out, nil
}

// Setting returns the value the device holds for the named setting.
func (d *LineDevice) Setting(name string) (float64, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.settings {
		if s.req.Name == name {
			return s.value, true
		}
	}
	return 0, false
}

// answerLine handles one line received from the port (with its
// terminator) and returns what the device answers, nil for nothing.
func (d *LineDevice) answerLine(line []byte) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fault == FaultTimeout {
		return nil
	}
	term := d.ser.Framing.Terminator + d.ser.Framing.End
	for _, s := range d.settings {
		if bytes.Equal(line, s.req.ReadbackLine()) {
			return []byte(s.before + profile.FormatLineValue(s.value) + s.after + term)
		}
		if v, ok := s.req.Line.Decode(line); ok {
			if s.req.Write.Check(v, "") != nil {
				return nil
			}
			s.value = v
			return append([]byte(profile.TrimLine(string(line))), term...)
		}
	}
	return nil
}

// period returns how often record i is sent: its pacing setting's value
// in seconds, else interval.
func (d *LineDevice) period(i int, interval time.Duration) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.settings {
		if s.record == i && s.value > 0 {
			return time.Duration(s.value * float64(time.Second))
		}
	}
	return interval
}

// lineReader splits received bytes into lines ending in '\n', keeping
// the terminator; a line longer than MaxRequestLine is dropped.
type lineReader struct{ buf []byte }

func (l *lineReader) feed(p []byte, line func([]byte)) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		line(l.buf[:i+1])
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > profile.MaxRequestLine {
		l.buf = l.buf[:0]
	}
	l.buf = append([]byte(nil), l.buf...)
}

// answer feeds received bytes to the settings and writes the answers.
func (d *LineDevice) answer(lr *lineReader, p []byte, port io.Writer) error {
	var out []byte
	lr.feed(p, func(line []byte) { out = append(out, d.answerLine(line)...) })
	if len(out) == 0 {
		return nil
	}
	if _, err := port.Write(out); err != nil {
		return fmt.Errorf("write serial answer: %w", err)
	}
	return nil
}
