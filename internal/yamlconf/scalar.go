package yamlconf

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// checkNode checks that node n can be decoded into a value of type t, and
// says what was expected when it cannot: the YAML library's own messages
// ("cannot unmarshal !!int `70000` into uint16") name neither the field
// nor the allowed values. Types with their own UnmarshalYAML (Duration,
// sizes) are decoded here so their errors get the field's path.
func checkNode(n *yaml.Node, t reflect.Type) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		err := n.Decode(reflect.New(t).Interface())
		var fe *FieldError
		var te *yaml.TypeError
		switch {
		case err == nil, errors.As(err, &fe):
		case errors.As(err, &te) && len(te.Errors) > 0:
			// "line N: msg", as a type's own UnmarshalYAML may return to
			// let decoding go on.
			fe = &FieldError{Msg: te.Errors[0]}
			if m := lineRe.FindStringSubmatch(te.Errors[0]); m != nil {
				fe.Line, _ = strconv.Atoi(m[1])
				fe.Msg = m[2]
			}
		default:
			fe = &FieldError{Msg: err.Error()}
		}
		if fe != nil {
			return fe
		}
		return nil
	}
	want := expected(t)
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		if n.Kind != yaml.MappingNode {
			return &FieldError{Msg: fmt.Sprintf("expected %s, got %s", want, got(n))}
		}
		return nil
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return &FieldError{Msg: fmt.Sprintf("expected %s, got %s", want, got(n))}
		}
		return nil
	case reflect.Interface:
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return &FieldError{Msg: fmt.Sprintf("expected %s, got %s", want, got(n))}
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if n.Tag != "!!int" {
			return &FieldError{Msg: fmt.Sprintf("%s is not an integer (expected %s)", quoteValue(n), want)}
		}
		if !intFits(n, t) {
			return &FieldError{Msg: fmt.Sprintf("%s out of range (expected %s)", n.Value, want)}
		}
	case reflect.Float32, reflect.Float64:
		if n.Tag != "!!int" && n.Tag != "!!float" {
			return &FieldError{Msg: fmt.Sprintf("%s is not a number (expected %s)", quoteValue(n), want)}
		}
		var f float64
		if err := n.Decode(&f); err != nil || (t.Kind() == reflect.Float32 && math.Abs(f) > math.MaxFloat32 && !math.IsInf(f, 0)) {
			return &FieldError{Msg: fmt.Sprintf("%s out of range (expected %s)", n.Value, want)}
		}
	case reflect.Bool:
		if n.Tag != "!!bool" {
			return &FieldError{Msg: fmt.Sprintf("%s is not a boolean (expected %s)", quoteValue(n), want)}
		}
	}
	return nil
}

// intFits reports whether the integer scalar n fits t.
func intFits(n *yaml.Node, t reflect.Type) bool {
	var i int64
	if err := n.Decode(&i); err == nil {
		switch t.Kind() {
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			return i >= 0 && (t.Bits() == 64 || uint64(i) < 1<<t.Bits())
		}
		return t.Bits() == 64 || (i >= -(1<<(t.Bits()-1)) && i < 1<<(t.Bits()-1))
	}
	var u uint64
	return n.Decode(&u) == nil && t.Bits() == 64 && t.Kind() >= reflect.Uint
}

// expected says in words what a value of type t looks like.
func expected(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping of keys"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return fmt.Sprintf("an integer %d..%d", -(int64(1) << (t.Bits() - 1)), int64(1)<<(t.Bits()-1)-1)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return fmt.Sprintf("an integer 0..%d", uint64(1)<<t.Bits()-1)
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return "an integer 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	}
	return "a " + t.Kind().String()
}

func got(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return quoteValue(n)
}

func quoteValue(n *yaml.Node) string {
	if n.Tag == "!!str" {
		return strconv.Quote(n.Value)
	}
	return n.Value
}
