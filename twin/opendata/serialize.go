package opendata

import (
	"bytes"
	"encoding/json"
	"strings"
)

// subjects groups g's triples by subject, subjects and each subject's
// predicates in their first-added order.
func (g *Graph) subjects() []subjectGroup {
	var out []subjectGroup
	idx := map[Term]int{}
	for _, t := range g.triples {
		i, ok := idx[t.S]
		if !ok {
			i = len(out)
			idx[t.S] = i
			out = append(out, subjectGroup{subject: t.S})
		}
		sg := &out[i]
		j := -1
		for k, p := range sg.preds {
			if p.pred == t.P {
				j = k
				break
			}
		}
		if j < 0 {
			j = len(sg.preds)
			sg.preds = append(sg.preds, predGroup{pred: t.P})
		}
		sg.preds[j].objects = append(sg.preds[j].objects, t.O)
	}
	return out
}

type subjectGroup struct {
	subject Term
	preds   []predGroup
}

type predGroup struct {
	pred    Term
	objects []Term
}

// compact returns the prefixed name of an IRI when one of namespaces
// covers it and its local part is a plain name (letters, digits, _ and -,
// not starting with - or a digit, which every Turtle and JSON-LD reader
// takes), else "".
func compact(s string) string {
	for _, n := range namespaces {
		local, ok := strings.CutPrefix(s, n.iri)
		if !ok || local == "" {
			continue
		}
		plain := true
		for i, r := range local {
			letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_'
			if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '-')) {
				plain = false
				break
			}
		}
		if plain {
			return n.prefix + ":" + local
		}
	}
	return ""
}

// turtleTerm writes t for Turtle: prefixed names where they fit.
func turtleTerm(t Term) string {
	switch {
	case t.kind == kindIRI:
		if c := compact(t.value); c != "" {
			return c
		}
	case t.kind == kindLiteral && t.datatype != "":
		if c := compact(t.datatype); c != "" {
			return `"` + escapeString(t.value) + `"^^` + c
		}
	}
	return ntriplesTerm(t)
}

// Turtle writes g as RDF 1.1 Turtle: the prefixes, then one block per
// subject in the graph's order, rdf:type first as "a".
func (g *Graph) Turtle() []byte {
	var b bytes.Buffer
	for _, n := range namespaces {
		b.WriteString("@prefix " + n.prefix + ": <" + n.iri + "> .\n")
	}
	rdfType := ns("rdf:type")
	for _, sg := range g.subjects() {
		b.WriteString("\n" + turtleTerm(sg.subject))
		for i, p := range sg.preds {
			sep := " ;\n    "
			if i == 0 {
				sep = "\n    "
			}
			pred := turtleTerm(p.pred)
			if p.pred.value == rdfType {
				pred = "a"
			}
			b.WriteString(sep + pred + " ")
			for j, o := range p.objects {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(turtleTerm(o))
			}
		}
		b.WriteString(" .\n")
	}
	return b.Bytes()
}

// jsonldContext is the @context of the JSON-LD: the namespaces as prefix
// definitions and nothing else, so that every key and @type is a prefixed
// name any JSON-LD 1.1 processor expands without fetching a thing.
func jsonldContext() map[string]string {
	ctx := map[string]string{}
	for _, n := range namespaces {
		ctx[n.prefix] = n.iri
	}
	return ctx
}

// jsonldName is the key or @type value for an IRI: its prefixed name or
// the IRI itself.
func jsonldName(s string) string {
	if c := compact(s); c != "" {
		return c
	}
	return s
}

// jsonldValue is a node reference or value object for t.
func jsonldValue(t Term) map[string]string {
	switch t.kind {
	case kindIRI:
		return map[string]string{"@id": t.value}
	case kindBlank:
		return map[string]string{"@id": "_:" + t.value}
	}
	v := map[string]string{"@value": t.value}
	switch {
	case t.lang != "":
		v["@language"] = t.lang
	case t.datatype != "":
		v["@type"] = jsonldName(t.datatype)
	}
	return v
}

// JSONLD writes g as JSON-LD 1.1: a @context of prefixes and a @graph of
// node objects in the graph's order, each value an explicit node
// reference or value object (so no term definition can change its
// meaning). The order of keys inside a node is encoding/json's (sorted).
func (g *Graph) JSONLD() ([]byte, error) {
	rdfType := ns("rdf:type")
	nodes := []map[string]any{}
	for _, sg := range g.subjects() {
		id := sg.subject.value
		if sg.subject.isBlank() {
			id = "_:" + id
		}
		node := map[string]any{"@id": id}
		for _, p := range sg.preds {
			if p.pred.value == rdfType && allIRIs(p.objects) {
				types := make([]string, len(p.objects))
				for i, o := range p.objects {
					types[i] = jsonldName(o.value)
				}
				node["@type"] = types
				continue
			}
			vals := make([]map[string]string, len(p.objects))
			for i, o := range p.objects {
				vals[i] = jsonldValue(o)
			}
			node[jsonldName(p.pred.value)] = vals
		}
		nodes = append(nodes, node)
	}
	doc := map[string]any{"@context": jsonldContext(), "@graph": nodes}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// allIRIs says whether every term is an IRI (an rdf:type to a blank node
// is written as a property, as @type takes IRIs only).
func allIRIs(ts []Term) bool {
	for _, t := range ts {
		if !t.isIRI() {
			return false
		}
	}
	return true
}
