package ngsild

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ponte-city/ponte/twin"
)

// maxQLen bounds q, and with it the parser's recursion through parentheses.
const maxQLen = 4096

// QExpr is a parsed q expression (clause 4.9): a test on an entity's
// attributes.
type QExpr interface {
	// Match reports whether e satisfies the expression.
	Match(e twin.Entity) bool
	// String renders the expression back in q syntax.
	String() string
}

// qOr is a | b | ...
type qOr []QExpr

// qAnd is a ; b ; ...
type qAnd []QExpr

// qTerm is attr, or attr op value.
type qTerm struct {
	attr string
	op   string // "" for the existence test, "!" for non-existence
	val  any    // float64, string or bool
}

// Match is true when any operand matches.
func (o qOr) Match(e twin.Entity) bool {
	for _, x := range o {
		if x.Match(e) {
			return true
		}
	}
	return false
}

// Match is true when every operand matches.
func (a qAnd) Match(e twin.Entity) bool {
	for _, x := range a {
		if !x.Match(e) {
			return false
		}
	}
	return true
}

func (o qOr) String() string  { return join(o, "|") }
func (a qAnd) String() string { return join(a, ";") }

func join(xs []QExpr, sep string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		s := x.String()
		switch x.(type) {
		case qOr, qAnd:
			s = "(" + s + ")"
		}
		parts[i] = s
	}
	return strings.Join(parts, sep)
}

// String renders the term in q syntax.
func (t qTerm) String() string {
	switch t.op {
	case "":
		return t.attr
	case "!":
		return "!" + t.attr
	}
	switch v := t.val.(type) {
	case string:
		// The grammar's only escapes are \" and \\.
		return t.attr + t.op + `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
	case float64:
		return t.attr + t.op + strconv.FormatFloat(v, 'g', -1, 64)
	default:
		return fmt.Sprintf("%s%s%v", t.attr, t.op, v)
	}
}

// Match applies the term. A term on an attribute the entity lacks is
// false whatever the operator (clause 4.9). Numbers compare with numbers,
// strings with strings (lexicographically, which orders DateTimes in UTC
// too), booleans only with == and !=; values of different types are
// unequal and unordered.
func (t qTerm) Match(e twin.Entity) bool {
	v, ok := attrValue(e, t.attr)
	if t.op == "!" {
		return !ok
	}
	if !ok {
		return false
	}
	if t.op == "" {
		return true
	}
	c, comparable := compare(v, t.val)
	switch t.op {
	case "==":
		return comparable && c == 0
	case "!=":
		return !comparable || c != 0
	}
	if _, isBool := t.val.(bool); isBool || !comparable {
		return false
	}
	switch t.op {
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	}
	return false
}

// compare orders an attribute's value against a q value; ok is false when
// they are of different types.
func compare(v, q any) (c int, ok bool) {
	switch q := q.(type) {
	case float64:
		var f float64
		switch v := v.(type) {
		case float64:
			f = v
		case int64:
			f = float64(v)
		case int:
			f = float64(v)
		default:
			return 0, false
		}
		switch {
		case f < q:
			return -1, true
		case f > q:
			return 1, true
		}
		return 0, true
	case string:
		s, isStr := v.(string)
		return strings.Compare(s, q), isStr
	case bool:
		b, isBool := v.(bool)
		if !isBool {
			return 0, false
		}
		if b == q {
			return 0, true
		}
		return 1, true
	}
	return 0, false
}

// ParseQ parses the q parameter. Errors are *Problem (BadRequestData)
// naming the 1-based character position where the input went wrong.
func ParseQ(s string) (QExpr, error) {
	if s == "" {
		return nil, badData("q", "empty query")
	}
	if len(s) > maxQLen {
		return nil, badData("q", "longer than %d characters", maxQLen)
	}
	p := qParser{s: s}
	x := p.level()
	if p.err == nil && p.pos < len(s) {
		p.fail("unexpected %s", p.describe())
	}
	if p.err != nil {
		return nil, p.err
	}
	return x, nil
}

// qParser is a recursive-descent parser of the grammar of clause 4.9:
//
//	level  = factor *(";" factor) / factor *("|" factor)
//	factor = "(" level ")" / term
//	term   = attrName [op value] / "!" attrName
//	op     = "==" / "!=" / ">=" / ">" / "<=" / "<"
//	value  = number / quotedStr / "true" / "false"
type qParser struct {
	s     string
	pos   int
	depth int
	err   *Problem
}

func (p *qParser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = badData("q", "at position %d: %s", p.pos+1, fmt.Sprintf(format, args...))
	}
}

// describe names what is at the current position, for errors.
func (p *qParser) describe() string {
	if p.pos >= len(p.s) {
		return "end of query"
	}
	r := p.s[p.pos:]
	if len(r) > 10 {
		r = r[:10] + "..."
	}
	return strconv.Quote(r)
}

func (p *qParser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

// level parses factors joined by one logical operator. The grammar of
// clause 4.9 is flat and states no precedence between ; and |, so a level
// mixing them is refused, as Orion-LD refuses it: parentheses say which
// was meant.
func (p *qParser) level() QExpr {
	xs := []QExpr{p.factor()}
	var op byte
	for p.err == nil && (p.peek() == ';' || p.peek() == '|') {
		if op != 0 && p.peek() != op {
			p.fail("; (AND) and | (OR) mixed without parentheses")
			return nil
		}
		op = p.peek()
		p.pos++
		xs = append(xs, p.factor())
	}
	switch {
	case len(xs) == 1:
		return xs[0]
	case op == '|':
		return qOr(xs)
	}
	return qAnd(xs)
}

func (p *qParser) factor() QExpr {
	if p.err != nil {
		return nil
	}
	if p.peek() != '(' {
		return p.term()
	}
	p.depth++
	if p.depth > 32 {
		p.fail("parentheses nested deeper than 32")
		return nil
	}
	p.pos++
	x := p.level()
	if p.err == nil && p.peek() != ')' {
		p.fail("expected ) but found %s", p.describe())
	}
	p.pos++
	p.depth--
	return x
}

// isNameChar reports whether c may be in an attribute name: the
// characters of NGSI-LD attribute names that are not q syntax.
func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func (p *qParser) term() QExpr {
	not := p.peek() == '!'
	if not {
		p.pos++
	}
	start := p.pos
	for p.pos < len(p.s) && isNameChar(p.s[p.pos]) {
		p.pos++
	}
	if p.pos == start {
		p.fail("expected an attribute name but found %s", p.describe())
		return nil
	}
	t := qTerm{attr: p.s[start:p.pos]}
	switch p.peek() {
	case '.', '[':
		p.fail("attribute paths (a.b, a[b]) are not supported")
		return nil
	case ';', '|', ')', 0:
		if not {
			t.op = "!"
		}
		return t
	}
	if not {
		p.fail("! (not exists) takes an attribute name alone")
		return nil
	}
	for _, op := range []string{"==", "!=", ">=", "<=", ">", "<", "~=", "!~="} {
		if strings.HasPrefix(p.s[p.pos:], op) {
			t.op = op
			break
		}
	}
	switch t.op {
	case "":
		p.fail("expected an operator (==, !=, >, >=, <, <=) but found %s", p.describe())
		return nil
	case "~=", "!~=":
		p.fail("pattern operator %s is not supported", t.op)
		return nil
	}
	p.pos += len(t.op)
	t.val = p.value()
	if p.err != nil {
		return nil
	}
	switch {
	case p.peek() == ',':
		p.fail("value lists are not supported")
	case strings.HasPrefix(p.s[p.pos:], ".."):
		p.fail("ranges are not supported")
	}
	return t
}

// value parses a number, a quoted string, true or false.
func (p *qParser) value() any {
	rest := p.s[p.pos:]
	switch {
	case strings.HasPrefix(rest, `"`):
		return p.quoted()
	case strings.HasPrefix(rest, "true") && !p.nameCharAt(p.pos+4):
		p.pos += 4
		return true
	case strings.HasPrefix(rest, "false") && !p.nameCharAt(p.pos+5):
		p.pos += 5
		return false
	case rest != "" && (rest[0] == '-' || rest[0] >= '0' && rest[0] <= '9'):
		return p.number()
	}
	p.fail("expected a number, a quoted string, true or false but found %s", p.describe())
	return nil
}

func (p *qParser) nameCharAt(i int) bool {
	return i < len(p.s) && isNameChar(p.s[i])
}

// number parses a JSON number.
func (p *qParser) number() any {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.peek() == '-' {
		p.pos++
	}
	ok := digits() > 0
	if ok && p.peek() == '.' && !strings.HasPrefix(p.s[p.pos:], "..") {
		p.pos++
		ok = digits() > 0
	}
	if ok && (p.peek() == 'e' || p.peek() == 'E') {
		p.pos++
		if p.peek() == '+' || p.peek() == '-' {
			p.pos++
		}
		ok = digits() > 0
	}
	if ok && (p.nameCharAt(p.pos) || p.peek() == '-' || p.peek() == ':') {
		ok = false
	}
	if !ok {
		p.pos = start
		p.fail("malformed number %s (dates and times must be quoted)", p.describe())
		return nil
	}
	f, err := strconv.ParseFloat(p.s[start:p.pos], 64)
	if err != nil {
		p.pos = start
		p.fail("number %s out of range", p.describe())
		return nil
	}
	return f
}

// quoted parses a string in double quotes; \" and \\ are its escapes.
func (p *qParser) quoted() any {
	start := p.pos
	p.pos++
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch c {
		case '"':
			p.pos++
			return b.String()
		case '\\':
			if p.pos+1 < len(p.s) && (p.s[p.pos+1] == '"' || p.s[p.pos+1] == '\\') {
				b.WriteByte(p.s[p.pos+1])
				p.pos += 2
				continue
			}
			p.fail("bad escape in string (only \\\" and \\\\)")
			return nil
		}
		b.WriteByte(c)
		p.pos++
	}
	p.pos = start
	p.fail("string not closed")
	return nil
}
