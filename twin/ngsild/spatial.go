package ngsild

import (
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/planar"
)

// vertices returns every position of g.
func vertices(g orb.Geometry) []orb.Point {
	var out []orb.Point
	switch g := g.(type) {
	case orb.Point:
		out = append(out, g)
	case orb.MultiPoint:
		out = append(out, g...)
	case orb.LineString:
		out = append(out, g...)
	case orb.MultiLineString:
		for _, l := range g {
			out = append(out, l...)
		}
	case orb.Ring:
		out = append(out, g...)
	case orb.Polygon:
		for _, r := range g {
			out = append(out, r...)
		}
	case orb.MultiPolygon:
		for _, p := range g {
			out = append(out, vertices(p)...)
		}
	case orb.Collection:
		for _, x := range g {
			out = append(out, vertices(x)...)
		}
	case orb.Bound:
		out = append(out, vertices(g.ToPolygon())...)
	}
	return out
}

// segments returns every segment of g's lines and rings.
func segments(g orb.Geometry) [][2]orb.Point {
	var out [][2]orb.Point
	line := func(ps []orb.Point) {
		for i := 1; i < len(ps); i++ {
			out = append(out, [2]orb.Point{ps[i-1], ps[i]})
		}
	}
	switch g := g.(type) {
	case orb.LineString:
		line(g)
	case orb.MultiLineString:
		for _, l := range g {
			line(l)
		}
	case orb.Ring:
		line(g)
	case orb.Polygon:
		for _, r := range g {
			line(r)
		}
	case orb.MultiPolygon:
		for _, p := range g {
			out = append(out, segments(p)...)
		}
	case orb.Collection:
		for _, x := range g {
			out = append(out, segments(x)...)
		}
	case orb.Bound:
		out = segments(g.ToPolygon())
	}
	return out
}

// contains reports whether g is an areal geometry holding p.
func contains(g orb.Geometry, p orb.Point) bool {
	switch g := g.(type) {
	case orb.Polygon:
		return planar.PolygonContains(g, p)
	case orb.MultiPolygon:
		return planar.MultiPolygonContains(g, p)
	case orb.Bound:
		return g.Contains(p)
	case orb.Collection:
		for _, x := range g {
			if contains(x, p) {
				return true
			}
		}
	}
	return false
}

// distance is the distance in metres on the WGS84 sphere from p to the
// nearest point of g (0 inside an areal g). The nearest point of each
// segment is found in an equirectangular frame centred on p, which is
// exact enough at the scale of a city; the distance to it is geo's.
func distance(p orb.Point, g orb.Geometry) float64 {
	if contains(g, p) {
		return 0
	}
	best := math.Inf(1)
	for _, v := range vertices(g) {
		best = min(best, geo.Distance(p, v))
	}
	k := math.Cos(p.Lat() * math.Pi / 180)
	for _, s := range segments(g) {
		ax, ay := (s[0].Lon()-p.Lon())*k, s[0].Lat()-p.Lat()
		bx, by := (s[1].Lon()-p.Lon())*k, s[1].Lat()-p.Lat()
		dx, dy := bx-ax, by-ay
		l2 := dx*dx + dy*dy
		if l2 == 0 {
			continue
		}
		t := max(0, min(1, -(ax*dx+ay*dy)/l2))
		q := orb.Point{s[0].Lon() + t*(s[1].Lon()-s[0].Lon()), s[0].Lat() + t*(s[1].Lat()-s[0].Lat())}
		best = min(best, geo.Distance(p, q))
	}
	return best
}

// within reports whether g lies inside poly: every vertex inside and no
// edge of g crossing one of poly's.
func within(g orb.Geometry, poly orb.Polygon) bool {
	vs := vertices(g)
	if len(vs) == 0 {
		return false
	}
	for _, v := range vs {
		if !planar.PolygonContains(poly, v) {
			return false
		}
	}
	for _, a := range segments(g) {
		for _, b := range segments(poly) {
			if properlyCross(a, b) {
				return false
			}
		}
	}
	return true
}

// intersects reports whether g and ref share at least one point.
func intersects(g, ref orb.Geometry) bool {
	for _, v := range vertices(g) {
		if contains(ref, v) || onAny(v, ref) {
			return true
		}
	}
	for _, v := range vertices(ref) {
		if contains(g, v) || onAny(v, g) {
			return true
		}
	}
	for _, a := range segments(g) {
		for _, b := range segments(ref) {
			if touch(a, b) {
				return true
			}
		}
	}
	return false
}

// onTolerance is how near, in degrees (about 0.1 mm), a point must be to a
// line to lie on it: floating point rarely puts it exactly there.
const onTolerance = 1e-9

// onAny reports whether p is one of g's vertices or lies on its segments.
func onAny(p orb.Point, g orb.Geometry) bool {
	for _, v := range vertices(g) {
		if v.Equal(p) {
			return true
		}
	}
	for _, s := range segments(g) {
		if planar.DistanceFromSegment(s[0], s[1], p) <= onTolerance {
			return true
		}
	}
	return false
}

// orient is the sign of the cross product (b-a)x(c-a).
func orient(a, b, c orb.Point) int {
	v := (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// between reports whether c, collinear with a and b, lies within their box.
func between(a, b, c orb.Point) bool {
	return min(a[0], b[0]) <= c[0] && c[0] <= max(a[0], b[0]) && min(a[1], b[1]) <= c[1] && c[1] <= max(a[1], b[1])
}

// properlyCross reports whether segments a and b cross at a point inside
// both.
func properlyCross(a, b [2]orb.Point) bool {
	o1, o2 := orient(a[0], a[1], b[0]), orient(a[0], a[1], b[1])
	o3, o4 := orient(b[0], b[1], a[0]), orient(b[0], b[1], a[1])
	return o1*o2 < 0 && o3*o4 < 0
}

// touch reports whether segments a and b share a point.
func touch(a, b [2]orb.Point) bool {
	if properlyCross(a, b) {
		return true
	}
	return orient(a[0], a[1], b[0]) == 0 && between(a[0], a[1], b[0]) ||
		orient(a[0], a[1], b[1]) == 0 && between(a[0], a[1], b[1]) ||
		orient(b[0], b[1], a[0]) == 0 && between(b[0], b[1], a[0]) ||
		orient(b[0], b[1], a[1]) == 0 && between(b[0], b[1], a[1])
}
