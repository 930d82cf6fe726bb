package geo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// featureCtx carries what is known of a feature for its problems.
type featureCtx struct {
	p        *parser
	index    int
	line     int
	id, name string
	bad      bool
}

func (c *featureCtx) problem(err error, format string, args ...any) {
	c.bad = true
	c.p.errs.add(Problem{Line: c.line, Feature: c.index, ID: c.id, Name: c.name,
		Msg: fmt.Sprintf(format, args...), Err: err})
}

// feature validates one feature; ok is false when it had problems (which
// are recorded).
func (p *parser) feature(i int, rf rawFeature) (Feature, bool) {
	c := &featureCtx{p: p, index: i, line: rf.line}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(rf.raw, &members); err != nil || members == nil {
		c.problem(ErrStructure, "is %s, expected a Feature object", rawKind(rf.raw))
		return Feature{}, false
	}

	// Identify the feature first so that every later message names it.
	props, propsErr := decodeProps(members["properties"])
	name, _ := propString(props[p.opts.NameProperty])
	c.name = name
	c.id = p.featureID(c, members["id"], props)

	if t := stringMember(members["type"]); t != "Feature" {
		c.problem(ErrStructure, `"type" is %s, expected "Feature"`, rawValue(members["type"]))
	}
	if propsErr != "" {
		c.problem(ErrStructure, "%s", propsErr)
	}
	if raw, ok := members["crs"]; ok && !isNull(raw) {
		if msg := sameCRSMember(raw, p.crs); msg != "" {
			c.problem(ErrCRS, "%s", msg)
		}
	}
	g, ok := p.geometry(c, members["geometry"])
	if !ok || c.bad {
		return Feature{}, false
	}
	return Feature{ID: c.id, Name: c.name, Geometry: g, Props: props, Bound: g.Bound()}, true
}

// featureID reads the ID, records missing, malformed and duplicate IDs, and
// returns what can be shown of it.
func (p *parser) featureID(c *featureCtx, idMember json.RawMessage, props map[string]any) string {
	var id string
	var ok bool
	if p.opts.IDProperty != "" {
		v, present := props[p.opts.IDProperty]
		if !present || v == nil {
			c.problem(ErrID, "property %q (the layer's ID property) is missing", p.opts.IDProperty)
			return ""
		}
		if id, ok = propString(v); !ok || id == "" {
			c.problem(ErrID, "property %q (the layer's ID property) is %s, expected a non-empty string or a number", p.opts.IDProperty, jsonKind(v))
			return ""
		}
	} else {
		if len(idMember) == 0 || isNull(idMember) {
			c.problem(ErrID, `has no "id": give each feature an "id" member, or name the property that holds it in LoadOptions.IDProperty`)
			return ""
		}
		if id, ok = rawID(idMember); !ok || id == "" {
			c.problem(ErrID, `"id" is %s, expected a non-empty string or a number`, rawKind(idMember))
			return ""
		}
	}
	if first, dup := p.ids[id]; dup {
		c.id = id
		c.problem(ErrID, "id %s is also used by features[%d]: IDs must be unique in a layer", id, first)
		return id
	}
	p.ids[id] = c.index
	return id
}

// decodeProps decodes the "properties" member; an absent or null member is
// an empty map.
func decodeProps(raw json.RawMessage) (map[string]any, string) {
	if len(raw) == 0 || isNull(raw) {
		return map[string]any{}, ""
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return map[string]any{}, fmt.Sprintf(`"properties": %v`, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return map[string]any{}, fmt.Sprintf(`"properties" is %s, expected an object or null`, jsonKind(v))
	}
	return convertNumbers(m).(map[string]any), ""
}

// convertNumbers turns json.Number into float64 where it fits one, and
// into its literal text where it does not.
func convertNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			return f
		}
		return string(v)
	case map[string]any:
		for k, e := range v {
			v[k] = convertNumbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = convertNumbers(e)
		}
	}
	return v
}

// propString renders a string or number property as an ID or name.
func propString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}

// rawID reads a GeoJSON "id" member: a string, or a number kept as written.
func rawID(raw json.RawMessage) (string, bool) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return string(v), true
	}
	return "", false
}

// stringMember returns the member as a string, or "" if it is not one.
func stringMember(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// rawKind names the JSON type of raw text.
func rawKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "missing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// rawValue shows a member for messages: strings quoted, others by kind.
func rawValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return jsonValue(s)
	}
	return rawKind(raw)
}

// expectedTypes renders a kind's allowed geometry types for messages.
func expectedTypes(k Kind) string {
	return strings.Join(k.allowed(), " or ")
}
