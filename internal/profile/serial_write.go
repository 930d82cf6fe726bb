package profile

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-city/ponte/internal/yamlconf"
)

// SerialRequest is a writable point of a serial device (issue 16): a
// setting changed by a request line, such as the Vaisala WXT530's wind
// update interval ("0WU,I=10\r\n", user guide M211840EN-D 8.1.1.3). The
// source writes Command with the value, then asks for the setting with
// Readback.Request and takes the first line matching Readback.Match as
// the read-back; the device's data lines keep flowing meanwhile.
type SerialRequest struct {
	// Name is the point's name, unique among the profile's points.
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Unit        string `yaml:"unit"`
	// Command is the line that writes the value: text with exactly one
	// {value} placeholder and the escapes \r, \n, \t and \\ (a YAML
	// double-quoted string has already turned "\r\n" into CR LF; a
	// single-quoted one leaves them to this). See LineTemplate.
	Command string `yaml:"command"`
	// Readback says how to read the setting after the write.
	Readback SerialReadback `yaml:"readback"`
	// Timeout is how long the answer to the read-back request may take
	// (default DefaultAnswerTimeout).
	Timeout yamlconf.Duration `yaml:"timeout"`
	// Write bounds the value. Its readback must be empty or the point
	// itself: a serial setting reads back through Readback.
	Write Write `yaml:"write"`
	// SetsInterval names the record the device sends every value
	// seconds, when the setting is such an interval (the WXT530's wind
	// update interval paces its MWV sentences). The simulator follows it.
	SetsInterval string `yaml:"sets_interval"`

	// Line is Command parsed, set by Load.
	Line *LineTemplate `yaml:"-"`
}

// SerialReadback is how a serial setting is read back.
type SerialReadback struct {
	// Request is the line that asks the device for the setting
	// (escapes as in SerialRequest.Command), e.g. "0WU\r\n".
	Request string `yaml:"request"`
	// Match is a regular expression (RE2) with a named group value that
	// picks the answer among the lines the device sends and extracts the
	// setting from it, e.g. '^0WU,R=[01&]+,I=(?P<value>\d+),'. It must
	// not match the command's own line, which devices echo.
	Match string `yaml:"match"`
	// Example is a real answer, as the vendor's document prints it
	// (without the line terminator). Load checks that Match reads a value
	// from it; the simulator answers with it, its value replaced.
	Example string `yaml:"example"`

	// MatchRe is Match compiled, set by Load.
	MatchRe *regexp.Regexp `yaml:"-"`
}

// DefaultAnswerTimeout is the read-back timeout of a SerialRequest that
// sets none.
const DefaultAnswerTimeout = 2 * time.Second

// maxAnswerTimeout bounds SerialRequest.Timeout: a write holds the
// device's port that long.
const maxAnswerTimeout = 30 * time.Second

// MaxRequestLine bounds a request line's length in bytes.
const MaxRequestLine = 256

// AnswerTimeout returns Timeout, or its default.
func (r *SerialRequest) AnswerTimeout() time.Duration {
	if t := r.Timeout.D(); t > 0 {
		return t
	}
	return DefaultAnswerTimeout
}

// ReadbackLine returns the read-back request with its escapes resolved.
func (r *SerialRequest) ReadbackLine() []byte {
	b, _ := Unescape(r.Readback.Request) // checked by Load
	return []byte(b)
}

// ParseAnswer extracts the setting from a line the device sent (without
// its terminator). ok is false when the line is not the answer; err says
// that it is, but its value is not a number.
func (r *SerialRequest) ParseAnswer(line string) (v float64, ok bool, err error) {
	return parseAnswer(r.Readback.MatchRe, line)
}

func parseAnswer(re *regexp.Regexp, line string) (float64, bool, error) {
	if re == nil {
		return 0, false, nil
	}
	m := re.FindStringSubmatch(line)
	if m == nil {
		return 0, false, nil
	}
	text := strings.TrimSpace(m[re.SubexpIndex("value")])
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, true, fmt.Errorf("answer %q: value %q is not a number", cut(line), cut(text))
	}
	return v, true, nil
}

// LineTemplate is a request line with one {value} placeholder, parsed:
// the text before and after it, escapes resolved. The value is written
// in the shortest decimal form that reads back exactly ("10", "2.5",
// "-90"), without exponent. Immutable; safe for concurrent use.
type LineTemplate struct {
	text           string
	prefix, suffix string
}

// ParseLineTemplate parses a request line template; its error says what
// is wrong and what was expected.
func ParseLineTemplate(s string) (*LineTemplate, error) {
	u, err := Unescape(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %v", cut(s), err)
	}
	i := strings.Index(u, "{value}")
	switch {
	case i < 0:
		return nil, fmt.Errorf("%q: no {value} placeholder (expected a line such as \"0WU,I={value}\\r\\n\")", cut(s))
	case strings.Contains(u[i+len("{value}"):], "{value}"):
		return nil, fmt.Errorf("%q: a second {value} (expected exactly one)", cut(s))
	}
	t := &LineTemplate{text: s, prefix: u[:i], suffix: u[i+len("{value}"):]}
	for _, part := range []string{t.prefix, t.suffix} {
		if j := strings.IndexAny(part, "{}"); j >= 0 {
			return nil, fmt.Errorf("%q: unexpected %q (expected one {value} placeholder and text)", cut(s), part[j])
		}
	}
	if n := len(t.prefix) + len(t.suffix); n+24 > MaxRequestLine {
		return nil, fmt.Errorf("%q: %d bytes (expected at most %d)", cut(s), n, MaxRequestLine-24)
	}
	return t, nil
}

// Unescape resolves \r, \n, \t and \\ in a request line and refuses
// control bytes other than CR, LF and tab, which a profile writes as
// escapes.
func Unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 == len(s) {
				return "", fmt.Errorf("a lone \\ at the end (expected \\r, \\n, \\t or \\\\)")
			}
			i++
			switch s[i] {
			case 'r':
				b.WriteByte('\r')
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '\\':
				b.WriteByte('\\')
			default:
				return "", fmt.Errorf("unknown escape \\%c (expected \\r, \\n, \\t or \\\\)", s[i])
			}
		case c < 0x20 && c != '\r' && c != '\n' && c != '\t', c == 0x7f:
			return "", fmt.Errorf("control byte 0x%02x (expected text; write CR and LF as \\r and \\n)", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// String returns the template as written in the profile.
func (t *LineTemplate) String() string { return t.text }

// Encode returns the line carrying v.
func (t *LineTemplate) Encode(v float64) ([]byte, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("value %s: expected a finite number for request line %q", fmtValue(v), t.text)
	}
	return []byte(t.prefix + FormatLineValue(v) + t.suffix), nil
}

// FormatLineValue writes v as a request line carries it: shortest exact
// decimal, no exponent ("10", "2.5", "-90").
func FormatLineValue(v float64) string {
	if v == 0 {
		return "0" // no "-0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// Decode returns the value a line built by Encode carries (the
// simulator's side); ok is false for any other line.
func (t *LineTemplate) Decode(line []byte) (v float64, ok bool) {
	s := string(line)
	if len(s) < len(t.prefix)+len(t.suffix)+1 || !strings.HasPrefix(s, t.prefix) || !strings.HasSuffix(s, t.suffix) {
		return 0, false
	}
	text := s[len(t.prefix) : len(s)-len(t.suffix)]
	if text == "" || strings.ContainsAny(text, "eEnNiIxX_+ \t") {
		return 0, false
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// TrimLine cuts a line's trailing CR and LF.
func TrimLine(s string) string { return strings.TrimRight(s, "\r\n") }

// serialRequests validates serial.requests; seen holds the records'
// point names.
func (v *validator) serialRequests(s *Serial, seen map[string]string) {
	records := map[string]bool{}
	for _, r := range s.Records {
		records[r.Name] = true
	}
	for i := range s.Requests {
		r := &s.Requests[i]
		path := fmt.Sprintf("serial.requests[%d]", i)
		v.uniqueName(seen, path+".name", r.Name)
		if strings.TrimSpace(r.Command) == "" {
			v.errorf(path+".command", "required (expected a line with one {value}, e.g. \"0WU,I={value}\\r\\n\")")
		} else if t, err := ParseLineTemplate(r.Command); err != nil {
			v.errorf(path+".command", "%v", err)
		} else {
			r.Line = t
		}
		v.serialReadback(path+".readback", r)
		if d := r.Timeout.D(); d < 0 || d > maxAnswerTimeout {
			v.errorf(path+".timeout", "%s: expected 0 (default %s) to %s", d, DefaultAnswerTimeout, maxAnswerTimeout)
		}
		if r.SetsInterval != "" && !records[r.SetsInterval] {
			v.errorf(path+".sets_interval", "no record %q (expected one of %s)", r.SetsInterval, list(sortedSet(records)))
		}
		if rb := r.Write.Readback; rb != "" && rb != r.Name {
			v.errorf(path+".write.readback", "%q: a serial setting is read back by its readback request (expected empty)", rb)
		}
		v.write(path+".write", &r.Write, r.Name, func(string) bool { return true })
	}
}

// serialReadback checks a request's read-back: the request line, the
// match expression with its value group, the example it must read, and
// that the command's own line (echoed by devices) is not taken for the
// answer.
func (v *validator) serialReadback(path string, r *SerialRequest) {
	rb := &r.Readback
	if strings.TrimSpace(rb.Request) == "" {
		v.errorf(path+".request", "required (expected the line that asks the device for the setting, e.g. \"0WU\\r\\n\")")
	} else if _, err := Unescape(rb.Request); err != nil {
		v.errorf(path+".request", "%q: %v", cut(rb.Request), err)
	} else if len(rb.Request) > MaxRequestLine {
		v.errorf(path+".request", "%d bytes (expected at most %d)", len(rb.Request), MaxRequestLine)
	}
	if rb.Match == "" {
		v.errorf(path+".match", "required (expected a regular expression with a named group value, e.g. '^0WU,.*\\bI=(?P<value>\\d+)')")
		return
	}
	re := v.compile(path+".match", rb.Match)
	if re == nil {
		return
	}
	if re.SubexpIndex("value") < 0 {
		v.errorf(path+".match", "%q has no named group value (expected (?P<value>...) around the setting)", cut(rb.Match))
		return
	}
	rb.MatchRe = re
	if rb.Example == "" {
		v.errorf(path+".example", "required (expected the device's answer as the vendor's document prints it)")
	} else if _, ok, err := parseAnswer(re, rb.Example); !ok {
		v.errorf(path+".example", "example %q does not match the match expression", cut(rb.Example))
	} else if err != nil {
		v.errorf(path+".example", "%v", err)
	}
	if r.Line == nil {
		return
	}
	for _, x := range writeValues(&r.Write) {
		line, _ := r.Line.Encode(x)
		if _, ok, _ := parseAnswer(re, TrimLine(string(line))); ok {
			v.errorf(path+".match", "it also matches the command's own line %q, which the device echoes (expected an expression only the answer matches)", TrimLine(string(line)))
			return
		}
	}
}

// writeValues are the values a write's rules allow at their edges.
func writeValues(w *Write) []float64 {
	var vals []float64
	for _, c := range w.Enum {
		vals = append(vals, c.Value)
	}
	if w.Min != nil && w.Max != nil {
		vals = append(vals, *w.Min, *w.Max)
	}
	return vals
}
