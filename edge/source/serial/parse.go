package serial

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// Frame errors the parser reports; the source counts them by kind.
var (
	// ErrUnmatched marks a frame that no record of the profile matches.
	ErrUnmatched = errors.New("frame matches no record")
	// ErrDecode marks a frame with at least one field that could not be
	// decoded; its readings are still produced, the failed ones as
	// bad_decode.
	ErrDecode = errors.New("field could not be decoded")
)

var placeholderRe = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// lineParser turns data frames (checksum removed) into readings, as the
// records of one profile say. It is pure: no I/O, no clock.
type lineParser struct {
	device  string
	records []record
}

type record struct {
	name   string
	match  *regexp.Regexp // nil: select by re, or every frame
	re     *regexp.Regexp // nil: delimiter record
	delim  string
	fields []field
}

type field struct {
	name    []namePart
	group   int // submatch index in the record's re
	column  int // 0-based column of a delimiter record
	typ     profile.Type
	scaling profile.Scaling
	unit    string
	rng     profile.Range
}

// namePart is a literal piece of a point name, or (group > 0) the text of
// a regex group.
type namePart struct {
	lit   string
	group int
}

// newLineParser compiles the records of s for device. Regular expressions
// already compiled by the profile loader are reused.
func newLineParser(device string, s *profile.Serial) (*lineParser, error) {
	if len(s.Records) == 0 {
		return nil, errors.New("profile has no records")
	}
	p := &lineParser{device: device}
	for i := range s.Records {
		r, err := compileRecord(&s.Records[i])
		if err != nil {
			return nil, fmt.Errorf("record %d (%s): %w", i, s.Records[i].Name, err)
		}
		p.records = append(p.records, r)
	}
	return p, nil
}

func compileRecord(pr *profile.Record) (record, error) {
	r := record{name: pr.Name, match: pr.MatchRe, re: pr.Re, delim: pr.Delimiter}
	var err error
	if r.match == nil && pr.Match != "" {
		if r.match, err = regexp.Compile(pr.Match); err != nil {
			return r, fmt.Errorf("match: %w", err)
		}
	}
	if r.re == nil && pr.Regex != "" {
		if r.re, err = regexp.Compile(pr.Regex); err != nil {
			return r, fmt.Errorf("regex: %w", err)
		}
	}
	if (r.re == nil) == (r.delim == "") {
		return r, errors.New("expected either regex or delimiter")
	}
	if len(pr.Fields) == 0 {
		return r, errors.New("no fields")
	}
	for j := range pr.Fields {
		pf := &pr.Fields[j]
		f := field{typ: pf.Type, scaling: pf.Scaling, unit: pf.Unit, rng: pf.Range, group: -1}
		switch pf.Type {
		case profile.TypeInt, profile.TypeFloat, profile.TypeBool, profile.TypeString:
		default:
			return r, fmt.Errorf("field %s: type %q (expected int, float, bool or string)", pf.Name, pf.Type)
		}
		if f.name, err = compileName(pf.Name, r.re); err != nil {
			return r, fmt.Errorf("field %s: %w", pf.Name, err)
		}
		if r.re != nil {
			if f.group = r.re.SubexpIndex(pf.Group); f.group < 0 {
				return r, fmt.Errorf("field %s: group %q is not a named group of the regex", pf.Name, pf.Group)
			}
		} else {
			if pf.Column == nil || *pf.Column < 0 {
				return r, fmt.Errorf("field %s: needs a 0-based column", pf.Name)
			}
			f.column = *pf.Column
		}
		r.fields = append(r.fields, f)
	}
	return r, nil
}

func compileName(name string, re *regexp.Regexp) ([]namePart, error) {
	if name == "" {
		return nil, errors.New("no name")
	}
	var parts []namePart
	last := 0
	for _, m := range placeholderRe.FindAllStringSubmatchIndex(name, -1) {
		g := -1
		if re != nil {
			g = re.SubexpIndex(name[m[2]:m[3]])
		}
		if g < 0 {
			return nil, fmt.Errorf("placeholder %s is not a named group of the record's regex", name[m[0]:m[1]])
		}
		if m[0] > last {
			parts = append(parts, namePart{lit: name[last:m[0]]})
		}
		parts = append(parts, namePart{group: g})
		last = m[1]
	}
	if last < len(name) {
		parts = append(parts, namePart{lit: name[last:]})
	}
	return parts, nil
}

// static returns the point name if it has no placeholders.
func (f *field) static() (string, bool) {
	if len(f.name) == 1 && f.name[0].group == 0 {
		return f.name[0].lit, true
	}
	return "", false
}

// pointName expands the name's placeholders from the regex submatches.
func (f *field) pointName(line string, sub []int) string {
	if s, ok := f.static(); ok {
		return s
	}
	var b strings.Builder
	for _, p := range f.name {
		if p.group == 0 {
			b.WriteString(p.lit)
		} else if sub[2*p.group] >= 0 {
			b.WriteString(line[sub[2*p.group]:sub[2*p.group+1]])
		}
	}
	return b.String()
}

// parseLine parses one data frame into readings appended to out, stamped
// with at. It picks the first record whose match expression matches the
// line; a record without one is picked when its regex matches, or always
// (delimiter records). It returns the record's name, and an error wrapping
// ErrUnmatched (no record: no readings) or ErrDecode (readings produced,
// some of them bad_decode).
func (p *lineParser) parseLine(line string, at time.Time, out []wire.Reading) ([]wire.Reading, string, error) {
	for i := range p.records {
		r := &p.records[i]
		var sub []int
		switch {
		case r.match != nil:
			if !r.match.MatchString(line) {
				continue
			}
		case r.re != nil:
			if sub = r.re.FindStringSubmatchIndex(line); sub == nil {
				continue
			}
		}
		out, err := p.parseRecord(r, line, sub, at, out)
		return out, r.name, err
	}
	return out, "", ErrUnmatched
}

// parseRecord extracts r's fields from line; sub is the regex's submatch
// index if already computed.
func (p *lineParser) parseRecord(r *record, line string, sub []int, at time.Time, out []wire.Reading) ([]wire.Reading, error) {
	var bad []string
	if r.re != nil && sub == nil {
		if sub = r.re.FindStringSubmatchIndex(line); sub == nil {
			// Selected by match but malformed: every field whose name is
			// known fails; names from groups cannot be known.
			for i := range r.fields {
				f := &r.fields[i]
				if name, ok := f.static(); ok {
					out = append(out, p.reading(f, name, at, wire.Value{}, wire.QualityBadDecode,
						fmt.Sprintf("record %s: frame does not match the record's regex", r.name)))
				}
			}
			return out, fmt.Errorf("record %s: frame does not match the record's regex: %w", r.name, ErrDecode)
		}
	}
	var cols []string
	if r.re == nil {
		cols = strings.Split(line, r.delim)
	}
	for i := range r.fields {
		f := &r.fields[i]
		name := f.pointName(line, sub)
		var text string
		var reason string
		switch {
		case r.re != nil && sub[2*f.group] < 0:
			// The group sits in an optional part of the regex that this
			// frame leaves out: the device was set not to send the value
			// (a WXT530 with hail switched off), so there is no reading.
			continue
		case r.re != nil:
			text = line[sub[2*f.group]:sub[2*f.group+1]]
		case f.column >= len(cols):
			reason = fmt.Sprintf("field %s: column %d missing (frame has %d columns)", name, f.column, len(cols))
		default:
			text = cols[f.column]
		}
		if reason != "" {
			bad = append(bad, name)
			out = append(out, p.reading(f, name, at, wire.Value{}, wire.QualityBadDecode, reason))
			continue
		}
		v, q, why := convert(f, strings.TrimSpace(text))
		if q == wire.QualityBadDecode {
			bad = append(bad, name)
		}
		if why != "" {
			why = "field " + name + ": " + why
		}
		out = append(out, p.reading(f, name, at, v, q, why))
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("record %s: fields %s: %w", r.name, strings.Join(bad, ", "), ErrDecode)
	}
	return out, nil
}

func (p *lineParser) reading(f *field, name string, at time.Time, v wire.Value, q wire.Quality, reason string) wire.Reading {
	return wire.Reading{Device: p.device, Point: name, Value: v, Unit: f.unit, Time: at, Quality: q, Reason: reason}
}
