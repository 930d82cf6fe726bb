package influx

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

// maxReason bounds a reason kept for a rejected reading: a server message
// quoting many lines is cut, not carried whole into every dead letter.
const maxReason = 512

// refusal is InfluxDB's answer to a write it refused (400, 422, 413).
type refusal struct {
	// Message is the server's message: the "error" or "message" of a JSON
	// body, or the body itself.
	Message string
	// Lines are per-line errors of InfluxDB 3.x ("data" of a partial
	// write).
	Lines []lineError
}

// lineError is one entry of InfluxDB 3.x's per-line error list.
type lineError struct {
	OriginalLine string `json:"original_line"`
	LineNumber   int    `json:"line_number"`
	ErrorMessage string `json:"error_message"`
}

// parseRefusal reads an error body of any InfluxDB version: 1.x
// {"error": "..."}, 2.x {"code": "...", "message": "..."}, 3.x
// {"error": "...", "data": [...]}, or plain text. fallback (the client's
// message, from the X-Influxdb-Error header) is used when the body says
// nothing.
func parseRefusal(body []byte, fallback string) refusal {
	body = bytes.TrimSpace(body)
	var r refusal
	if len(body) > 0 && body[0] == '{' {
		var j struct {
			Error   string          `json:"error"`
			Message string          `json:"message"`
			Code    string          `json:"code"`
			Data    json.RawMessage `json:"data"`
		}
		if json.Unmarshal(body, &j) == nil {
			r.Message = j.Error
			if r.Message == "" {
				r.Message = j.Message
			}
			if len(j.Data) > 0 && j.Data[0] == '[' {
				_ = json.Unmarshal(j.Data, &r.Lines)
			}
		}
	}
	if r.Message == "" && len(r.Lines) == 0 {
		r.Message = string(body)
	}
	if r.Message == "" {
		r.Message = fallback
	}
	return r
}

// conflictRe matches InfluxDB's field type conflict (1.x and 2.x; tsdb's
// defaultFieldValidator).
var conflictRe = regexp.MustCompile(`input field "(.*?)" on measurement "(.*?)" is type (\w+), already exists as type (\w+)`)

const unableToParse = "unable to parse '"

// attribute finds which of lines (without their newlines) the refusal
// names, and why: lines quoted in "unable to parse '<line>': <why>", lines
// whose measurement, field and type match a field type conflict, and the
// lines of a 3.x per-line error list. Lines it cannot tell apart from the
// message are not in the result; the caller splits the batch to find them.
func attribute(r refusal, lines [][]byte) map[int]string {
	out := make(map[int]string)
	var byText map[string][]int
	index := func() map[string][]int {
		if byText == nil {
			byText = make(map[string][]int, len(lines))
			for i, l := range lines {
				byText[string(l)] = append(byText[string(l)], i)
			}
		}
		return byText
	}
	for _, le := range r.Lines {
		reason := clip(le.ErrorMessage)
		if idx, ok := index()[le.OriginalLine]; ok && le.OriginalLine != "" {
			for _, i := range idx {
				out[i] = reason
			}
		} else if le.LineNumber >= 1 && le.LineNumber <= len(lines) && le.OriginalLine == "" {
			out[le.LineNumber-1] = reason
		}
	}
	msg := r.Message
	for start := 0; ; {
		k := strings.Index(msg[start:], unableToParse)
		if k < 0 {
			break
		}
		s := start + k + len(unableToParse)
		start = s
		// The line may itself contain "': "; try each candidate end until
		// the text between is one of ours.
		for e := s; e < len(msg); {
			q := strings.Index(msg[e:], "'")
			if q < 0 {
				break
			}
			e += q
			if idx, ok := index()[msg[s:e]]; ok {
				why := msg[e+1:]
				why = strings.TrimPrefix(why, ": ")
				if n := strings.IndexByte(why, '\n'); n >= 0 {
					why = why[:n]
				}
				if n := strings.Index(why, unableToParse); n >= 0 {
					why = why[:n]
				}
				why = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(why), dropped(why)))
				for _, i := range idx {
					out[i] = clip("unable to parse: " + why)
				}
				start = e + 1
				break
			}
			e++
		}
	}
	for _, m := range conflictRe.FindAllStringSubmatch(msg, -1) {
		field, meas, typ := m[1], m[2], m[3]
		reason := clip("field type conflict: " + m[0])
		for i, l := range lines {
			lm, fields, ok := lineFields(l)
			if !ok || lm != meas {
				continue
			}
			for _, f := range fields {
				if f.key == field && f.typ == typ {
					out[i] = reason
					break
				}
			}
		}
	}
	return out
}

// dropped returns the " dropped=N" suffix of a partial write message, if s
// ends with one.
func dropped(s string) string {
	s = strings.TrimSpace(s)
	k := strings.LastIndex(s, " dropped=")
	if k < 0 {
		return ""
	}
	for _, c := range s[k+len(" dropped="):] {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return s[k:]
}

// clip shortens a reason to maxReason bytes.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxReason {
		return s
	}
	return s[:maxReason] + "..."
}

// lineField is a field of a line: its key, unescaped, and the type
// InfluxDB gives its value ("float", "integer", "unsigned", "boolean",
// "string").
type lineField struct {
	key, typ string
}

// parseLine returns the measurement, the first field's key and its type
// of a line this package wrote, unescaped; ok is false when l is not such a
// line.
func parseLine(l []byte) (measurement, field, typ string, ok bool) {
	m, fields, ok := lineFields(l)
	if !ok {
		return "", "", "", false
	}
	return m, fields[0].key, fields[0].typ, true
}

// lineFields returns the measurement and the fields of a line this
// package wrote; ok is false when l is not such a line.
func lineFields(l []byte) (measurement string, fields []lineField, ok bool) {
	i, meas := scanTo(l, 0, ", ", false)
	if i >= len(l) {
		return "", nil, false
	}
	// Skip the tags up to the unescaped space before the fields.
	if l[i] == ',' {
		i, _ = scanTo(l, i+1, " ", false)
		if i >= len(l) {
			return "", nil, false
		}
	}
	for {
		var key string
		i, key = scanTo(l, i+1, "=", true)
		if i >= len(l) || key == "" {
			return "", nil, false
		}
		v := l[i+1:]
		var typ string
		end := 0
		switch {
		case len(v) == 0:
			return "", nil, false
		case v[0] == '"':
			typ = "string"
			end = 1
			for end < len(v) && v[end] != '"' {
				if v[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(v) {
				return "", nil, false
			}
			end++
		default:
			end = bytes.IndexAny(v, " ,")
			if end < 0 {
				end = len(v)
			}
			switch {
			case v[0] == 't' || v[0] == 'f' || v[0] == 'T' || v[0] == 'F':
				typ = "boolean"
			case end > 0 && v[end-1] == 'i':
				typ = "integer"
			case end > 0 && v[end-1] == 'u':
				typ = "unsigned"
			default:
				typ = "float"
			}
		}
		fields = append(fields, lineField{key: key, typ: typ})
		i += 1 + end
		if i >= len(l) || l[i] != ',' {
			return meas, fields, true
		}
	}
}

// scanTo returns the index of the first unescaped byte of l at or after i
// that is in stops, and the unescaped text before it.
func scanTo(l []byte, i int, stops string, tag bool) (int, string) {
	var b strings.Builder
	for i < len(l) {
		c := l[i]
		if c == '\\' && i+1 < len(l) && (l[i+1] == ',' || l[i+1] == ' ' || (tag && l[i+1] == '=')) {
			b.WriteByte(l[i+1])
			i += 2
			continue
		}
		if strings.IndexByte(stops, c) >= 0 {
			return i, b.String()
		}
		b.WriteByte(c)
		i++
	}
	return i, b.String()
}
