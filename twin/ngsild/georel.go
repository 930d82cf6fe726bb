package ngsild

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/twin"
)

// GeoQuery is a parsed georel/geometry/coordinates (clause 4.10) on the
// location GeoProperty.
type GeoQuery struct {
	// Rel is "near", "within" or "intersects".
	Rel string
	// MaxDistance and MinDistance, in metres, are near's; a negative value
	// is unset.
	MaxDistance, MinDistance float64
	// Geometry is the reference geometry: orb.Point or orb.Polygon.
	Geometry orb.Geometry
}

// ParseGeoQuery parses the three parameters; all empty is no geo query
// (nil, nil). Errors are *Problem naming the parameter.
func ParseGeoQuery(georel, geometry, coordinates string) (*GeoQuery, error) {
	if georel == "" && geometry == "" && coordinates == "" {
		return nil, nil
	}
	for _, p := range []struct{ name, v string }{{"georel", georel}, {"geometry", geometry}, {"coordinates", coordinates}} {
		if p.v == "" {
			return nil, invalid(p.name, "missing: georel, geometry and coordinates go together")
		}
	}
	g := &GeoQuery{MaxDistance: -1, MinDistance: -1}
	if err := g.parseRel(georel); err != nil {
		return nil, err
	}
	var err error
	if g.Geometry, err = parseGeometry(geometry, coordinates); err != nil {
		return nil, err
	}
	switch {
	case g.Rel == "near" && geometry != "Point":
		return nil, invalid("geometry", "near needs a Point, not %s", geometry)
	case g.Rel == "within" && geometry != "Polygon":
		return nil, invalid("geometry", "within needs a Polygon, not %s", geometry)
	}
	return g, nil
}

// parseRel parses georel: near;maxDistance==m, near;minDistance==m (both
// may be given), within, intersects.
func (g *GeoQuery) parseRel(s string) error {
	parts := strings.Split(s, ";")
	g.Rel = parts[0]
	switch g.Rel {
	case "within", "intersects":
		if len(parts) > 1 {
			return badData("georel", "%s takes no modifier, found %q", g.Rel, parts[1])
		}
		return nil
	case "near":
	case "equals", "disjoint", "contains", "overlaps":
		return badData("georel", "%s is not supported (near, within, intersects are)", g.Rel)
	default:
		return badData("georel", "unknown relation %q (near, within, intersects are supported)", g.Rel)
	}
	if len(parts) == 1 {
		return badData("georel", "near needs maxDistance==<metres> or minDistance==<metres>")
	}
	for _, m := range parts[1:] {
		name, v, ok := strings.Cut(m, "==")
		if !ok {
			return badData("georel", "modifier %q is not name==value", m)
		}
		d, err := strconv.ParseFloat(v, 64)
		if err != nil || d < 0 || math.IsInf(d, 0) || math.IsNaN(d) {
			return badData("georel", "%s must be a number of metres >= 0, found %q", name, v)
		}
		switch name {
		case "maxDistance":
			g.MaxDistance = d
		case "minDistance":
			g.MinDistance = d
		default:
			return badData("georel", "unknown modifier %q (maxDistance, minDistance)", name)
		}
	}
	return nil
}

// parseGeometry reads coordinates (JSON, as in GeoJSON) as a geometry of
// type typ: Point [lon,lat] or Polygon [[[lon,lat],...]] with closed rings
// of at least 4 positions.
func parseGeometry(typ, coordinates string) (orb.Geometry, error) {
	switch typ {
	case "Point":
		var c []float64
		if err := json.Unmarshal([]byte(coordinates), &c); err != nil {
			return nil, badData("coordinates", "a Point is [lon,lat]: %v", jsonProblem(err))
		}
		pt, err := position(c, "")
		if err != nil {
			return nil, err
		}
		return pt, nil
	case "Polygon":
		var rings [][][]float64
		if err := json.Unmarshal([]byte(coordinates), &rings); err != nil {
			return nil, badData("coordinates", "a Polygon is [[[lon,lat],...]]: %v", jsonProblem(err))
		}
		if len(rings) == 0 {
			return nil, badData("coordinates", "a Polygon needs at least one ring")
		}
		poly := make(orb.Polygon, len(rings))
		for i, r := range rings {
			if len(r) < 4 {
				return nil, badData("coordinates", "ring %d has %d positions, at least 4 needed", i, len(r))
			}
			ring := make(orb.Ring, len(r))
			for j, c := range r {
				pt, err := position(c, fmt.Sprintf("ring %d position %d: ", i, j))
				if err != nil {
					return nil, err
				}
				ring[j] = pt
			}
			if !ring.Closed() {
				return nil, badData("coordinates", "ring %d is not closed (first position differs from last)", i)
			}
			poly[i] = ring
		}
		return poly, nil
	case "LineString", "MultiPoint", "MultiLineString", "MultiPolygon":
		return nil, badData("geometry", "%s is not supported (Point, Polygon are)", typ)
	}
	return nil, badData("geometry", "unknown geometry %q (Point, Polygon are supported)", typ)
}

// jsonProblem shortens a JSON error for a detail.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at offset %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("wrong nesting at offset %d", te.Offset)
	}
	return err.Error()
}

// position checks one [lon,lat] pair of WGS84.
func position(c []float64, where string) (orb.Point, error) {
	if len(c) != 2 {
		return orb.Point{}, badData("coordinates", "%sa position is [lon,lat], found %d numbers", where, len(c))
	}
	if c[0] < -180 || c[0] > 180 || c[1] < -90 || c[1] > 90 {
		return orb.Point{}, badData("coordinates", "%sposition [%g,%g] is outside lon -180..180, lat -90..90", where, c[0], c[1])
	}
	return orb.Point{c[0], c[1]}, nil
}

// Match reports whether e's location stands in the relation to the
// reference geometry. An entity without a location never matches.
func (g *GeoQuery) Match(e twin.Entity) bool {
	if e.Geometry == nil {
		return false
	}
	switch g.Rel {
	case "near":
		d := distance(g.Geometry.(orb.Point), e.Geometry)
		return (g.MaxDistance < 0 || d <= g.MaxDistance) && (g.MinDistance < 0 || d >= g.MinDistance)
	case "within":
		return within(e.Geometry, g.Geometry.(orb.Polygon))
	case "intersects":
		return intersects(e.Geometry, g.Geometry)
	}
	return false
}
