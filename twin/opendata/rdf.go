package opendata

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Namespaces the catalogue uses, by prefix. Turtle and JSON-LD declare
// the same ones, so the two serializations name terms alike.
var namespaces = [...]struct{ prefix, iri string }{
	{"rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"},
	{"xsd", "http://www.w3.org/2001/XMLSchema#"},
	{"dcat", "http://www.w3.org/ns/dcat#"},
	{"dcatapit", "http://dati.gov.it/onto/dcatapit#"},
	{"dct", "http://purl.org/dc/terms/"},
	{"foaf", "http://xmlns.com/foaf/0.1/"},
	{"vcard", "http://www.w3.org/2006/vcard/ns#"},
	{"owl", "http://www.w3.org/2002/07/owl#"},
	{"gsp", "http://www.opengis.net/ont/geosparql#"},
	{"skos", "http://www.w3.org/2004/02/skos/core#"},
}

// ns returns the IRI of a prefixed name such as "dct:title"; it panics on
// an unknown prefix, which only a programming error in this package makes.
func ns(qname string) string {
	p, local, _ := strings.Cut(qname, ":")
	for _, n := range namespaces {
		if n.prefix == p {
			return n.iri + local
		}
	}
	panic("opendata: unknown prefix in " + qname)
}

// termKind is what a Term is.
type termKind uint8

const (
	kindIRI termKind = iota
	kindBlank
	kindLiteral
)

// A Term is an RDF term: an IRI, a blank node or a literal (plain, with a
// language tag, or typed). Make one with iri, blank, lit, langLit or
// typedLit; Graph.add refuses a term that Turtle or JSON-LD could not
// carry.
type Term struct {
	kind     termKind
	value    string // the IRI, the blank node's label, the literal's form
	lang     string
	datatype string // IRI; empty for xsd:string and language-tagged literals
}

// iri, blank, lit, langLit and typedLit make terms.
func iri(s string) Term           { return Term{kind: kindIRI, value: s} }
func blank(label string) Term     { return Term{kind: kindBlank, value: label} }
func lit(s string) Term           { return Term{kind: kindLiteral, value: s} }
func langLit(s, lang string) Term { return Term{kind: kindLiteral, value: s, lang: lang} }
func typedLit(s, dt string) Term  { return Term{kind: kindLiteral, value: s, datatype: dt} }
func dateLit(s string) Term       { return typedLit(s, ns("xsd:date")) }
func qn(qname string) Term        { return iri(ns(qname)) }
func (t Term) isIRI() bool        { return t.kind == kindIRI }
func (t Term) isBlank() bool      { return t.kind == kindBlank }
func (t Term) isLiteral() bool    { return t.kind == kindLiteral }

// Triple is one statement.
type Triple struct{ S, P, O Term }

// Graph is an ordered set of triples: serializers keep the order in
// which subjects and their properties were added, so outputs are stable
// and golden files are readable. Not safe for concurrent use while built.
type Graph struct {
	triples []Triple
	errs    []error
}

// add appends the triple s p o, or records why one of its terms cannot
// be written (see checkTerm); Err reports the recorded problems.
func (g *Graph) add(s, p, o Term) {
	for _, c := range []struct {
		what string
		t    Term
	}{{"subject", s}, {"predicate", p}, {"object", o}} {
		if err := checkTerm(c.t); err != nil {
			g.errs = append(g.errs, fmt.Errorf("%s of %s %s: %w", c.what, s.value, p.value, err))
			return
		}
	}
	if s.isLiteral() || !p.isIRI() {
		g.errs = append(g.errs, fmt.Errorf("triple %s %s: a subject is an IRI or blank node, a predicate an IRI", s.value, p.value))
		return
	}
	g.triples = append(g.triples, Triple{s, p, o})
}

// Triples returns the graph's triples in order.
func (g *Graph) Triples() []Triple { return append([]Triple(nil), g.triples...) }

// Err returns the problems add met, joined; nil when every triple was
// added.
func (g *Graph) Err() error { return errors.Join(g.errs...) }

// checkTerm says why t cannot be written, or nil.
func checkTerm(t Term) error {
	switch t.kind {
	case kindIRI:
		return checkIRI(t.value)
	case kindBlank:
		if !validBlankLabel(t.value) {
			return fmt.Errorf("blank node label %q: want letters, digits and _", t.value)
		}
	case kindLiteral:
		if !utf8.ValidString(t.value) {
			return fmt.Errorf("literal %q: not valid UTF-8", t.value)
		}
		if t.lang != "" && !validLangTag(t.lang) {
			return fmt.Errorf("language tag %q: want a BCP 47 tag such as it or en-GB", t.lang)
		}
		if t.lang != "" && t.datatype != "" {
			return fmt.Errorf("literal %q: both a language tag and a datatype", t.value)
		}
		if t.datatype != "" {
			return checkIRI(t.datatype)
		}
	}
	return nil
}

// checkIRI refuses what an IRIREF of Turtle and N-Triples may not hold
// (RDF 1.1 Turtle, production [18]: no space, control character or any
// of <>"{}|^`\) and a relative reference: a catalogue's IRIs are absolute.
func checkIRI(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("IRI %q: not valid UTF-8", s)
	}
	for _, r := range s {
		if r <= 0x20 || strings.ContainsRune("<>\"{}|^`\\", r) {
			return fmt.Errorf("IRI %q: character %q is not allowed in an IRI", s, r)
		}
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || scheme == "" || rest == "" || !validScheme(scheme) {
		return fmt.Errorf("IRI %q: want an absolute IRI (scheme:...)", s)
	}
	return nil
}

// validScheme says whether s is a URI scheme (RFC 3986 3.1).
func validScheme(s string) bool {
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// validLangTag says whether s has the shape of a language tag as Turtle
// reads it (LANGTAG: [a-zA-Z]+ ('-' [a-zA-Z0-9]+)*).
func validLangTag(s string) bool {
	for i, part := range strings.Split(s, "-") {
		if part == "" || len(part) > 8 {
			return false
		}
		for _, r := range part {
			alpha := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
			if !alpha && (i == 0 || r < '0' || r > '9') {
				return false
			}
		}
	}
	return true
}

// validBlankLabel says whether s is a blank node label both Turtle and
// JSON-LD take as is.
func validBlankLabel(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// escapeString escapes s for a Turtle or N-Triples string between double
// quotes (ECHAR and UCHAR): quote, backslash and line breaks by their
// short escapes, other control characters as \uXXXX; the rest is UTF-8 as
// is.
func escapeString(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// ntriplesTerm writes t as N-Triples does.
func ntriplesTerm(t Term) string {
	switch t.kind {
	case kindIRI:
		return "<" + t.value + ">"
	case kindBlank:
		return "_:" + t.value
	}
	s := `"` + escapeString(t.value) + `"`
	switch {
	case t.lang != "":
		s += "@" + t.lang
	case t.datatype != "":
		s += "^^<" + t.datatype + ">"
	}
	return s
}

// NTriples writes g as N-Triples, one triple a line in the graph's order.
func (g *Graph) NTriples() []byte {
	var b strings.Builder
	for _, t := range g.triples {
		b.WriteString(ntriplesTerm(t.S) + " " + ntriplesTerm(t.P) + " " + ntriplesTerm(t.O) + " .\n")
	}
	return []byte(b.String())
}
