package yamlconf

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// FieldError is a problem with one field of one file.
type FieldError struct {
	File string // file name as given to Decode
	Line int    // 1-based line, 0 when unknown
	Path string // field path, e.g. "modbus.points[3].type"; empty for the whole file
	Msg  string // what is wrong and what was expected
}

// Error formats the error as "file:line: path: msg".
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Doc remembers where each field of a decoded file stood, for error
// messages raised after decoding (validation).
type Doc struct {
	File  string
	lines map[string]int
}

// Line returns the line of the field at path, or of its nearest parent that
// appears in the file (a missing field is reported at its parent), or 0.
func (d *Doc) Line(path string) int {
	if d == nil {
		return 0
	}
	for {
		if l, ok := d.lines[path]; ok {
			return l
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

// Has reports whether the field at path was written in the file.
func (d *Doc) Has(path string) bool {
	if d == nil {
		return false
	}
	_, ok := d.lines[path]
	return ok
}

// Errorf returns a FieldError for the field at path.
func (d *Doc) Errorf(path, format string, args ...any) *FieldError {
	file := ""
	if d != nil {
		file = d.File
	}
	return &FieldError{File: file, Line: d.Line(path), Path: path, Msg: fmt.Sprintf(format, args...)}
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// Decode parses data, read from the file called name, into v (a pointer to a
// struct with yaml tags). Unknown fields, wrong types and YAML syntax errors
// are all reported, each as a *FieldError, joined with errors.Join. An empty
// document is an error.
func Decode(name string, data []byte, v any) (*Doc, error) {
	doc := &Doc{File: name, lines: map[string]int{}}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if err.Error() == "EOF" {
			return doc, &FieldError{File: name, Msg: "empty file (expected a YAML mapping)"}
		}
		return doc, syntaxError(name, data, err)
	}
	node := &root
	if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	if node.Kind != yaml.MappingNode {
		return doc, &FieldError{File: name, Line: node.Line, Msg: "expected a YAML mapping at the top level"}
	}
	var errs []error
	walk(doc, node, "", reflect.TypeOf(v), &errs)
	if err := node.Decode(v); err != nil {
		// walk has reported each type problem with its field path; the
		// library's message for the same line would only repeat it.
		seen := map[int]bool{}
		for _, e := range errs {
			seen[e.(*FieldError).Line] = true
		}
		for _, e := range typeErrors(name, err) {
			if fe, ok := e.(*FieldError); !ok || !seen[fe.Line] {
				errs = append(errs, e)
			}
		}
	}
	if len(errs) > 0 {
		return doc, errors.Join(errs...)
	}
	return doc, nil
}

var lineRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// syntaxError reports a file the YAML library refused. The library places
// parser errors at the line of their context (often the line before, or
// the parent key), so an indentation problem found by indentError at or
// after that line is reported instead, with its field path.
func syntaxError(name string, data []byte, err error) error {
	msg := err.Error()
	line := 0
	if m := lineRe.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if ie := indentError(name, data); ie != nil && ie.Line >= line {
		return ie
	}
	return &FieldError{File: name, Line: line, Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

func typeErrors(name string, err error) []error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		var fe *FieldError
		if errors.As(err, &fe) {
			fe.File = name
			return []error{fe}
		}
		return []error{&FieldError{File: name, Msg: err.Error()}}
	}
	var out []error
	for _, e := range te.Errors {
		if m := lineRe.FindStringSubmatch(e); m != nil {
			l, _ := strconv.Atoi(m[1])
			out = append(out, &FieldError{File: name, Line: l, Msg: strings.ReplaceAll(m[2], "!!", "")})
			continue
		}
		out = append(out, &FieldError{File: name, Msg: e})
	}
	return out
}

// walk records the line of every field and reports keys that the target
// type does not have.
func walk(doc *Doc, n *yaml.Node, path string, t reflect.Type, errs *[]error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	doc.lines[path] = n.Line
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return
	}
	if err := checkNode(n, t); err != nil {
		fe := &FieldError{File: doc.File, Line: n.Line, Path: path, Msg: err.Error()}
		var own *FieldError
		if errors.As(err, &own) {
			fe.Msg = own.Msg
			if own.Line > 0 {
				fe.Line = own.Line
			}
		}
		*errs = append(*errs, fe)
		return
	}
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		switch t.Kind() {
		case reflect.Struct:
			fields := structFields(t)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, val := n.Content[i], n.Content[i+1]
				if k.Value == "<<" {
					continue
				}
				p := join(path, k.Value)
				ft, ok := fields[k.Value]
				if !ok {
					doc.lines[p] = k.Line
					*errs = append(*errs, &FieldError{File: doc.File, Line: k.Line, Path: p,
						Msg: fmt.Sprintf("unknown field %q (expected one of %s)", k.Value, strings.Join(sortedKeys(fields), ", "))})
					continue
				}
				walk(doc, val, p, ft, errs)
				doc.lines[p] = k.Line
			}
		case reflect.Map:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, val := n.Content[i], n.Content[i+1]
				p := join(path, k.Value)
				walk(doc, val, p, t.Elem(), errs)
				doc.lines[p] = k.Line
			}
		}
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, c := range n.Content {
				walk(doc, c, fmt.Sprintf("%s[%d]", path, i), t.Elem(), errs)
			}
		}
	}
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range structFields(ft) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Duration is a time.Duration written in YAML as a Go duration string
// ("500ms", "2m"); a bare number is refused because its unit would be a guess.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!int" || n.Tag == "!!float" {
		return &FieldError{Line: n.Line, Msg: fmt.Sprintf("expected a duration string such as \"500ms\" or \"2s\", got %q", n.Value)}
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return &FieldError{Line: n.Line, Msg: fmt.Sprintf("expected a duration such as \"500ms\" or \"2s\", got %q", n.Value)}
	}
	if v < 0 {
		return &FieldError{Line: n.Line, Msg: fmt.Sprintf("duration must not be negative, got %q", n.Value)}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
