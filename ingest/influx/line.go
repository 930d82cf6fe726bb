package influx

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ponte-city/ponte/internal/influxschema"
	"github.com/ponte-city/ponte/wire"
)

// The range of timestamps InfluxDB stores (models.MinNanoTime and
// MaxNanoTime in InfluxDB 1.x and 2.x).
var (
	minTime = time.Unix(0, math.MinInt64+2)
	maxTime = time.Unix(0, math.MaxInt64-1)
)

// Series names the series a reading of a device lands on: the measurement
// and the tag values (empty Area or Type leave their tag out).
type Series struct {
	Measurement string
	Gateway     string
	Device      string
	Area        string
	Type        string
}

// SeriesFor returns the series of a device's readings: the measurement is
// the device's type (its category), or fallback when the type is unknown
// (influxschema.Measurement).
func SeriesFor(fallback, gateway, device, area, typ string) Series {
	m := influxschema.Measurement(wire.Category(typ), fallback)
	return Series{Measurement: m, Gateway: gateway, Device: device, Area: area, Type: typ}
}

// AppendSeries appends the series key of s in line protocol
// ("measurement,area=...,device=...,gateway=...,type=...") to dst. It
// returns a reason, and dst unchanged, when a name cannot be written
// faithfully.
func AppendSeries(dst []byte, s Series) ([]byte, string) {
	if why := checkName(s.Measurement, true); why != "" {
		return dst, "measurement " + strconv.Quote(s.Measurement) + " " + why
	}
	if s.Gateway == "" {
		return dst, "gateway is empty"
	}
	if s.Device == "" {
		return dst, "device is empty"
	}
	// Sorted by key, the order InfluxDB keeps them in (writing them sorted
	// spares the server a sort per point).
	tags := [...]struct{ key, value string }{
		{influxschema.TagArea, s.Area}, {influxschema.TagDevice, s.Device},
		{influxschema.TagGateway, s.Gateway}, {influxschema.TagType, s.Type},
	}
	for _, t := range tags {
		if t.value == "" {
			continue
		}
		if why := checkName(t.value, false); why != "" {
			return dst, t.key + " " + strconv.Quote(t.value) + " " + why
		}
	}
	dst = appendEscaped(dst, s.Measurement, false)
	for _, t := range tags {
		if t.value == "" {
			continue
		}
		dst = append(dst, ',')
		dst = append(dst, t.key...)
		dst = append(dst, '=')
		dst = appendEscaped(dst, t.value, true)
	}
	return dst, ""
}

// AppendFields appends the field set and timestamp of r and the line's
// newline (" point=value 1700000000000000000\n") to dst, which holds the
// series key: the line of one reading. A good reading has one field named
// after its point (influxschema.ValueField), typed as its value; a bad one
// has the string field influxschema.QualityField holding "quality: reason"
// instead. It returns a reason, and dst unchanged, when r cannot be
// written. The sink itself writes the readings of one device at one time
// as one line (AppendField, AppendTime).
func AppendFields(dst []byte, r *wire.Reading) ([]byte, string) {
	n := len(dst)
	dst = append(dst, ' ')
	dst, why := AppendField(dst, r)
	if why != "" {
		return dst[:n], why
	}
	return AppendTime(dst, r.Time), ""
}

// AppendField appends the field of r ("point=value", or
// "point_quality=\"quality: reason\"" for a bad reading) to dst, with no
// separator before it. It returns a reason, and dst unchanged, when r
// cannot be written.
func AppendField(dst []byte, r *wire.Reading) ([]byte, string) {
	if why := checkReading(r); why != "" {
		return dst, why
	}
	return appendField(dst, r)
}

// appendField is AppendField for a reading checkReading passed.
func appendField(dst []byte, r *wire.Reading) ([]byte, string) {
	n := len(dst)
	dst = appendEscaped(dst, influxschema.ValueField(r.Point), true)
	if !r.Quality.Good() {
		// QualityField, appended in place: the suffix needs no escapes.
		dst = append(dst, influxschema.QualitySuffix...)
		dst = append(dst, '=')
		q := r.Quality.String()
		if r.Reason != "" {
			q += ": " + r.Reason
		}
		return appendString(dst, q), ""
	}
	dst = append(dst, '=')
	switch r.Value.Kind {
	case wire.KindFloat:
		f := r.Value.F
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dst[:n], "value " + strconv.FormatFloat(f, 'g', -1, 64) + " is not a number InfluxDB stores"
		}
		dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
	case wire.KindInt:
		dst = strconv.AppendInt(dst, r.Value.I, 10)
		dst = append(dst, 'i')
	case wire.KindBool:
		dst = strconv.AppendBool(dst, r.Value.B)
	case wire.KindString:
		dst = appendString(dst, r.Value.S)
	default:
		return dst[:n], "value kind " + r.Value.Kind.String() + " is unknown"
	}
	return dst, ""
}

// AppendTime appends a line's timestamp in nanoseconds and its newline
// (" 1700000000000000000\n") to dst.
func AppendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, t.UnixNano(), 10)
	return append(dst, '\n')
}

// checkReading returns why r's point name or time cannot be written, or
// "" when they can.
func checkReading(r *wire.Reading) string {
	if r.Point == "" {
		return "point name is empty"
	}
	if r.Point == "time" {
		return `point name "time" is reserved by InfluxDB`
	}
	if why := checkName(r.Point, false); why != "" {
		return "point " + strconv.Quote(r.Point) + " " + why
	}
	if r.Time.IsZero() {
		return "acquisition time is missing"
	}
	if r.Time.Before(minTime) || r.Time.After(maxTime) {
		return "acquisition time " + r.Time.UTC().Format(time.RFC3339Nano) + " is outside the range InfluxDB stores (1677-2262)"
	}
	return ""
}

// checkName returns why s cannot be written as a measurement, tag value or
// field key, or "" when it can. Line protocol has no escape for control
// characters, and InfluxDB reads a backslash before a character it escapes
// (or at the end of a name) as an escape, so such names would come back
// changed or not parse.
func checkName(s string, measurement bool) string {
	if s == "" {
		return "is empty"
	}
	if measurement && s[0] == '#' {
		return "starts with '#', which InfluxDB reads as a comment line"
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return "contains a control character, which line protocol cannot carry"
		}
		if c == '\\' {
			if i == len(s)-1 {
				return "ends with a backslash, which line protocol cannot carry"
			}
			switch s[i+1] {
			case ',', '=', ' ', '"':
				return "has a backslash before " + strconv.QuoteRune(rune(s[i+1])) + ", which line protocol cannot carry"
			}
		}
	}
	return ""
}

// appendEscaped appends a measurement (tag false) or a tag key, tag value
// or field key (tag true) with line protocol's escapes.
func appendEscaped(dst []byte, s string, tag bool) []byte {
	if !strings.ContainsAny(s, ", =") {
		return append(dst, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ',', ' ':
			dst = append(dst, '\\', c)
		case '=':
			if tag {
				dst = append(dst, '\\')
			}
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendString appends a quoted string field value.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	if !strings.ContainsAny(s, `"\`) {
		dst = append(dst, s...)
	} else {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == '"' || c == '\\' {
				dst = append(dst, '\\')
			}
			dst = append(dst, s[i])
		}
	}
	return append(dst, '"')
}
