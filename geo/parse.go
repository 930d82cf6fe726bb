package geo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// parser holds the state of one ParseLayer call.
type parser struct {
	data []byte
	kind Kind
	opts LoadOptions
	errs problems
	ids  map[string]int // feature ID -> index of its first use
	crs  CRS            // the layer's positions are in it

	// line counting is incremental: features come in file order.
	lineOff, line int
}

// rawFeature is a feature's JSON text and where it starts.
type rawFeature struct {
	raw  json.RawMessage
	line int
}

// layerProblem records a problem of the layer as a whole.
func (p *parser) layerProblem(line int, err error, format string, args ...any) {
	p.errs.add(Problem{Line: line, Feature: -1, Msg: fmt.Sprintf(format, args...), Err: err})
}

// parse reads the top level of the FeatureCollection, then each feature.
// It returns nil after recording a problem that leaves no features to read.
func (p *parser) parse() *Layer {
	// A first full pass gives syntax errors with an absolute offset; the
	// streaming decoder below reports offsets relative to its current value.
	var probe json.RawMessage
	if err := json.Unmarshal(p.data, &probe); err != nil {
		var se *json.SyntaxError
		off := int64(len(p.data))
		if errors.As(err, &se) {
			off = se.Offset
		}
		line, col := lineCol(p.data, off)
		msg := err.Error()
		if se != nil {
			msg = se.Error()
		}
		if pos := int(off) - 1; pos >= 0 && pos < len(p.data) && (p.data[pos] == 'N' || p.data[pos] == 'I') {
			msg += "; JSON has no NaN or Infinity, every coordinate must be a finite number"
		}
		p.errs.add(Problem{Line: line, Column: col, Feature: -1, Err: ErrSyntax,
			Msg: fmt.Sprintf("invalid JSON: %s (byte offset %d)", msg, off)})
		return nil
	}

	dec := json.NewDecoder(bytes.NewReader(p.data))
	tok, _ := dec.Token()
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		p.layerProblem(1, ErrStructure, "expected a GeoJSON FeatureCollection object, found %s", jsonKind(tok))
		return nil
	}
	var (
		typ         any
		typeLine    = 1
		crsLine     = 1
		featsLine   = 1
		haveType    bool
		haveFeats   bool
		feats       []rawFeature
		crs         json.RawMessage
		featuresBad string
	)
	for dec.More() {
		tok, _ := dec.Token()
		key, _ := tok.(string)
		// Lines are counted from the start for the first of each member
		// only, so that a file of many repeated keys stays linear.
		switch key {
		case "type":
			if !haveType {
				typeLine = lineOf(p.data, dec.InputOffset())
			}
			_ = dec.Decode(&typ)
			haveType = true
		case "crs":
			if crs == nil {
				crsLine = lineOf(p.data, dec.InputOffset())
			}
			_ = dec.Decode(&crs)
		case "features":
			if haveFeats {
				featuresBad = `member "features" appears twice`
				_ = dec.Decode(new(json.RawMessage))
				continue
			}
			haveFeats = true
			featsLine = lineOf(p.data, dec.InputOffset())
			tok, _ := dec.Token()
			if d, ok := tok.(json.Delim); !ok || d != '[' {
				featuresBad = fmt.Sprintf(`"features" is %s, expected an array of Feature objects`, jsonKind(tok))
				if ok { // an object: skip the rest of it
					skipRest(dec)
				}
				continue
			}
			for dec.More() {
				off := skipSpaceComma(p.data, int(dec.InputOffset()))
				var raw json.RawMessage
				_ = dec.Decode(&raw)
				feats = append(feats, rawFeature{raw: raw, line: p.lineAt(off)})
			}
			_, _ = dec.Token() // ']'
		default:
			_ = dec.Decode(new(json.RawMessage))
		}
	}

	switch {
	case !haveType:
		p.layerProblem(1, ErrStructure, `missing "type": expected "FeatureCollection"`)
		return nil
	case typ != "FeatureCollection":
		p.layerProblem(typeLine, ErrStructure, `"type" is %s, expected "FeatureCollection" (a layer file holds one FeatureCollection of Features)`, jsonValue(typ))
		return nil
	}
	if !p.layerCRS(crs, crsLine) {
		return nil
	}
	switch {
	case featuresBad != "":
		p.layerProblem(featsLine, ErrStructure, "%s", featuresBad)
		return nil
	case !haveFeats:
		p.layerProblem(1, ErrStructure, `missing "features": expected an array of Feature objects`)
		return nil
	case len(feats) == 0:
		p.layerProblem(featsLine, ErrStructure, `"features" is empty: %s needs at least one feature`, p.kind.phrase())
		return nil
	}

	layer := &Layer{Kind: p.kind, CRS: p.crs, Features: make([]Feature, 0, len(feats))}
	for i, rf := range feats {
		f, ok := p.feature(i, rf)
		if !ok {
			continue
		}
		if len(layer.Features) == 0 {
			layer.Bound = f.Bound
		} else {
			layer.Bound = layer.Bound.Union(f.Bound)
		}
		layer.Features = append(layer.Features, f)
	}
	return layer
}

// lineAt returns the 1-based line of byte offset off; offsets must not
// decrease between calls.
func (p *parser) lineAt(off int) int {
	if p.line == 0 {
		p.line = 1
	}
	if off > len(p.data) {
		off = len(p.data)
	}
	if off > p.lineOff {
		p.line += bytes.Count(p.data[p.lineOff:off], []byte{'\n'})
		p.lineOff = off
	}
	return p.line
}

// lineOf returns the 1-based line of byte offset off.
func lineOf(data []byte, off int64) int {
	return 1 + bytes.Count(data[:min(int(off), len(data))], []byte{'\n'})
}

// lineCol returns the 1-based line and column of the byte before offset
// off, where a json.SyntaxError points.
func lineCol(data []byte, off int64) (int, int) {
	pos := int(off) - 1
	if pos < 0 {
		pos = 0
	}
	if pos > len(data) {
		pos = len(data)
	}
	line := 1 + bytes.Count(data[:pos], []byte{'\n'})
	col := pos - bytes.LastIndexByte(data[:pos], '\n')
	return line, col
}

// skipSpaceComma advances off past JSON whitespace and a separating comma.
func skipSpaceComma(data []byte, off int) int {
	for off < len(data) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',':
			off++
		default:
			return off
		}
	}
	return off
}

// skipRest consumes the remainder of the object or array whose opening
// delimiter was just read.
func skipRest(dec *json.Decoder) {
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
			default:
				depth--
			}
		}
	}
}

// jsonKind names the JSON type of a decoded token or value for messages.
func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// jsonValue shows a short decoded value: strings quoted, others by kind.
func jsonValue(v any) string {
	if s, ok := v.(string); ok {
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return fmt.Sprintf("%q", s)
	}
	return jsonKind(v)
}
