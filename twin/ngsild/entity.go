package ngsild

import (
	"slices"
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/twin"
)

// Form is how an entity is rendered.
type Form int

// The forms of clause 4.5: normalized (every attribute an object with its
// type, value and metadata) and keyValues (options=keyValues, the
// simplified form: attribute name to value).
const (
	Normalized Form = iota
	KeyValues
)

// Entity is one NGSI-LD entity as JSON: id, type, then attributes by
// name. encoding/json writes it with sorted keys.
type Entity map[string]any

// Property is a normalized NGSI-LD Property (clause 4.5.2).
type Property struct {
	Type       string `json:"type"` // "Property" or "GeoProperty"
	Value      any    `json:"value"`
	ObservedAt string `json:"observedAt,omitempty"`
	UnitCode   string `json:"unitCode,omitempty"`
}

// geometry is a GeoJSON geometry: orb's geometry types marshal as their
// coordinate arrays. (orb/geojson would pull in a BSON codec; see geo's
// package doc.)
type geometry struct {
	Type        string       `json:"type"`
	Coordinates orb.Geometry `json:"coordinates"`
}

// timeFormat is NGSI-LD's DateTime: ISO 8601 in UTC with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z"

// formatTime renders t as an NGSI-LD DateTime, "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

// attributes returns the NGSI-LD attributes of e in normalized form, by
// name: the twin's attributes, name, areaServed (the area's ID),
// dateObserved (its latest reading) and location.
func attributes(e twin.Entity) map[string]Property {
	out := make(map[string]Property, len(e.Attrs)+4)
	for name, a := range e.Attrs {
		p := Property{Type: "Property", Value: a.Value, ObservedAt: formatTime(a.ObservedAt)}
		if code, ok := UnitCode(a.Unit); ok {
			p.UnitCode = code
		}
		out[name] = p
	}
	if e.Name != "" {
		out["name"] = Property{Type: "Property", Value: e.Name}
	}
	if e.Area != "" {
		out["areaServed"] = Property{Type: "Property", Value: e.Area}
	}
	if !e.Updated.IsZero() {
		out["dateObserved"] = Property{Type: "Property", Value: formatTime(e.Updated)}
	}
	if e.Geometry != nil {
		out["location"] = Property{Type: "GeoProperty", Value: geometry{Type: e.Geometry.GeoJSONType(), Coordinates: e.Geometry}}
	}
	return out
}

// Represent renders e in form f, keeping only the attributes in attrs
// when attrs is not empty (the attrs parameter). It adds no @context: the
// response carries it in a Link header (application/json) or the caller
// sets "@context" (application/ld+json).
func Represent(e twin.Entity, f Form, attrs []string) Entity {
	all := attributes(e)
	out := make(Entity, len(all)+2)
	out["id"] = e.ID
	out["type"] = e.Type
	for name, p := range all {
		if len(attrs) > 0 && !slices.Contains(attrs, name) {
			continue
		}
		if f == KeyValues {
			out[name] = p.Value
		} else {
			out[name] = p
		}
	}
	return out
}

// attrValue returns the value of the NGSI-LD attribute name of e, as q
// compares it; ok is false when e has no such attribute.
func attrValue(e twin.Entity, name string) (any, bool) {
	if a, ok := e.Attrs[name]; ok {
		return a.Value, true
	}
	switch name {
	case "name":
		return e.Name, e.Name != ""
	case "areaServed":
		return e.Area, e.Area != ""
	case "dateObserved":
		return formatTime(e.Updated), !e.Updated.IsZero()
	case "location":
		return nil, e.Geometry != nil
	}
	return nil, false
}
