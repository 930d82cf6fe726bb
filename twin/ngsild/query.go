package ngsild

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ponte-city/ponte/twin"
)

// Pagination bounds: Orion-LD's (src/lib/orionld/mhd/mhdConnectionInit.cpp,
// limit 0..1000, offset >= 0); the specification leaves the maximum to the
// implementation (clause 5.5.9).
const (
	DefaultLimit = 20
	MaxLimit     = 1000
)

// Query is a parsed GET /ngsi-ld/v1/entities request (clause 6.4.3.2).
type Query struct {
	// Types, if not empty, are the entity types asked for (type=A,B).
	Types []string
	// Attrs, if not empty, are the attributes to return; an entity must
	// have at least one of them.
	Attrs []string
	// Q is the q filter, nil for none.
	Q QExpr
	// Geo is the geo query, nil for none.
	Geo *GeoQuery
	// Form is normalized unless options=keyValues.
	Form Form
	// Count asks for the NGSI-LD-Results-Count header (count=true).
	Count bool
	// Limit and Offset page the results.
	Limit, Offset int
}

// ParseQuery parses the query parameters of an entities query. Parameters
// it does not know are left to the caller. Errors are *Problem naming the
// parameter.
func ParseQuery(v url.Values) (*Query, error) {
	q := &Query{Limit: DefaultLimit}
	var err error
	if q.Types, err = nameList(v, "type"); err != nil {
		return nil, err
	}
	if q.Attrs, err = nameList(v, "attrs"); err != nil {
		return nil, err
	}
	if s, ok := single(v, "q"); ok {
		if q.Q, err = ParseQ(s); err != nil {
			return nil, err
		}
	}
	if q.Geo, err = ParseGeoQuery(v.Get("georel"), v.Get("geometry"), v.Get("coordinates")); err != nil {
		return nil, err
	}
	if gp := v.Get("geoproperty"); gp != "" && gp != "location" {
		return nil, badData("geoproperty", "only location is supported, not %q", gp)
	}
	if err := q.parseOptions(v); err != nil {
		return nil, err
	}
	if s, ok := single(v, "count"); ok {
		if s != "true" && s != "false" {
			return nil, badData("count", "must be true or false, found %q", s)
		}
		q.Count = s == "true"
	}
	if q.Limit, err = integer(v, "limit", DefaultLimit, MaxLimit); err != nil {
		return nil, err
	}
	if q.Offset, err = integer(v, "offset", 0, -1); err != nil {
		return nil, err
	}
	if q.Limit == 0 && !q.Count {
		return nil, invalid("limit", "0 returns no entity, so it needs count=true")
	}
	return q, nil
}

// single returns the value of a parameter, "" and false when absent.
func single(v url.Values, name string) (string, bool) {
	vs, ok := v[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// nameList parses a comma-separated list of names (type, attrs).
func nameList(v url.Values, param string) ([]string, error) {
	s, ok := single(v, param)
	if !ok {
		return nil, nil
	}
	var out []string
	for i, name := range strings.Split(s, ",") {
		if name == "" {
			return nil, badData(param, "item %d of the list is empty", i+1)
		}
		for j := 0; j < len(name); j++ {
			if !isNameChar(name[j]) {
				return nil, badData(param, "item %d %q has a character that is not a letter, digit or _ at position %d", i+1, name, j+1)
			}
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// parseOptions reads options (keyValues, normalized; sysAttrs is refused
// as the twin keeps no createdAt/modifiedAt).
func (q *Query) parseOptions(v url.Values) error {
	s, ok := single(v, "options")
	if !ok {
		return nil
	}
	kv, norm := false, false
	for _, o := range strings.Split(s, ",") {
		switch o {
		case "keyValues", "simplified":
			kv = true
		case "normalized":
			norm = true
		default:
			return badData("options", "unknown option %q (keyValues, normalized)", o)
		}
	}
	if kv && norm {
		return invalid("options", "keyValues and normalized exclude each other")
	}
	if kv {
		q.Form = KeyValues
	}
	return nil
}

// integer parses a non-negative integer parameter up to max (max < 0: no
// bound).
func integer(v url.Values, param string, def, max int) (int, error) {
	s, ok := single(v, param)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || strings.HasPrefix(s, "+") {
		return 0, badData(param, "must be an integer >= 0, found %q", s)
	}
	if max >= 0 && n > max {
		return 0, badData(param, "%d is above the maximum %d", n, max)
	}
	return n, nil
}

// Match reports whether e satisfies every filter of the query: type,
// attrs (at least one present), q and the geo query.
func (q *Query) Match(e twin.Entity) bool {
	if len(q.Types) > 0 && !slices.Contains(q.Types, e.Type) {
		return false
	}
	if len(q.Attrs) > 0 && !slices.ContainsFunc(q.Attrs, func(a string) bool {
		_, ok := attrValue(e, a)
		return ok
	}) {
		return false
	}
	if q.Q != nil && !q.Q.Match(e) {
		return false
	}
	return q.Geo == nil || q.Geo.Match(e)
}

// Page returns the entities of es (already matched and in a stable order)
// that the query's offset and limit select.
func (q *Query) Page(es []twin.Entity) []twin.Entity {
	if q.Offset >= len(es) {
		return nil
	}
	es = es[q.Offset:]
	return es[:min(len(es), q.Limit)]
}

// Represent renders e as the query asks (form and attrs).
func (q *Query) Represent(e twin.Entity) Entity {
	return Represent(e, q.Form, q.Attrs)
}
