package geo

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
)

// Roads finds the road segment nearest a point. It is immutable after
// NewRoads, so its methods may be called from any number of goroutines.
type Roads struct {
	*Index
	segs []segment
	tree *rtree // one entry per segment, id = index in segs
}

// segment is one straight piece of a road feature.
type segment struct {
	a, b orb.Point
	feat int32
}

// firstRadius is where Nearest starts looking, in metres: about the
// distance from a roadside sensor to its road.
const firstRadius = 50

// halfEarth is the longest haversine distance, in metres.
const halfEarth = math.Pi * orb.EarthRadius

// NewRoads indexes a roads layer segment by segment.
func NewRoads(layer *Layer) (*Roads, error) {
	x, err := NewIndex(layer)
	if err != nil {
		return nil, err
	}
	if layer.Kind != KindRoads {
		return nil, fmt.Errorf("index roads of layer %s: %w: it holds %s", layer.Name, ErrKind, layer.Kind)
	}
	r := &Roads{Index: x}
	var bounds []orb.Bound
	for i, f := range layer.Features {
		var lines []orb.LineString
		switch g := f.Geometry.(type) {
		case orb.LineString:
			lines = []orb.LineString{g}
		case orb.MultiLineString:
			lines = g
		default:
			return nil, fmt.Errorf("index roads of layer %s: %w: features[%d] (id %s) is a %s", layer.Name, ErrKind, i, f.ID, f.Geometry.GeoJSONType())
		}
		for _, l := range lines {
			for j := 1; j < len(l); j++ {
				s := segment{a: l[j-1], b: l[j], feat: int32(i)}
				r.segs = append(r.segs, s)
				bounds = append(bounds, orb.Bound{Min: s.a, Max: s.a}.Extend(s.b))
			}
		}
	}
	r.tree = newRTree(bounds)
	return r, nil
}

// Nearest returns the road nearest p and its distance in metres, if one
// lies within maxMetres (inclusive). The distance is geodesic (haversine
// on a sphere of radius orb.EarthRadius) from p to the closest point of
// the nearest segment; see the package docs for how that point is found
// and how accurate it is. Ties go to the first road in layer order.
// maxMetres may be +Inf; a negative or NaN maxMetres, or an invalid p,
// finds nothing.
func (r *Roads) Nearest(p orb.Point, maxMetres float64) (Feature, float64, bool) {
	if !validPoint(p) || math.IsNaN(maxMetres) || maxMetres < 0 {
		return Feature{}, 0, false
	}
	// Search a small circle first and widen it: any segment nearer than
	// the best found within radius r lies within r too, so the first
	// radius holding a hit settles the answer, and the cost follows the
	// distance to the nearest road rather than maxMetres.
	best, bestD := int32(-1), math.Inf(1)
	for radius := math.Min(firstRadius, maxMetres); ; radius = math.Min(radius*4, maxMetres) {
		r.tree.search(searchBound(p, radius), func(id int32) bool {
			s := &r.segs[id]
			d := segmentDistance(p, s.a, s.b)
			if d <= maxMetres && (d < bestD || d == bestD && s.feat < best) {
				best, bestD = s.feat, d
			}
			return true
		})
		if (best >= 0 && bestD <= radius) || radius >= maxMetres || radius >= halfEarth {
			break
		}
	}
	if best < 0 {
		return Feature{}, 0, false
	}
	return r.layer.Features[best], bestD, true
}

// segmentDistance is the haversine distance from p to the point of segment
// a-b nearest it, found by projecting p onto the segment in an
// equirectangular frame centred on p (x scaled by cos(lat of p)).
func segmentDistance(p, a, b orb.Point) float64 {
	return geo.DistanceHaversine(p, closestOnSegment(p, a, b))
}

// closestOnSegment returns the point of a-b nearest p in the local frame.
func closestOnSegment(p, a, b orb.Point) orb.Point {
	k := math.Cos(p[1] * math.Pi / 180)
	ax, ay := wrapLon(a[0]-p[0])*k, a[1]-p[1]
	dlon := wrapLon(b[0] - a[0])
	dx, dy := dlon*k, b[1]-a[1]
	den := dx*dx + dy*dy
	if den == 0 {
		return a
	}
	t := -(ax*dx + ay*dy) / den
	switch {
	case t <= 0:
		return a
	case t >= 1:
		return b
	}
	return orb.Point{wrapLon(a[0] + t*dlon), a[1] + t*(b[1]-a[1])}
}

// wrapLon brings a longitude or longitude difference into [-180, 180].
func wrapLon(d float64) float64 {
	switch {
	case d > 180:
		return d - 360
	case d < -180:
		return d + 360
	}
	return d
}

// searchBound returns a lon/lat box holding every point within metres of p
// (Matuschek's bounding coordinates), widened to all longitudes near a
// pole or across the antimeridian.
func searchBound(p orb.Point, metres float64) orb.Bound {
	delta := metres / orb.EarthRadius * 1.000001 // radians, with margin for rounding
	if delta >= math.Pi {
		return orb.Bound{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}
	}
	dLat := delta * 180 / math.Pi
	minLat, maxLat := p[1]-dLat, p[1]+dLat
	lat := p[1] * math.Pi / 180
	s := math.Sin(delta) / math.Cos(lat)
	if minLat <= -90 || maxLat >= 90 || s >= 1 {
		return orb.Bound{Min: orb.Point{-180, math.Max(minLat, -90)}, Max: orb.Point{180, math.Min(maxLat, 90)}}
	}
	dLon := math.Asin(s) * 180 / math.Pi
	minLon, maxLon := p[0]-dLon, p[0]+dLon
	if minLon < -180 || maxLon > 180 {
		minLon, maxLon = -180, 180
	}
	return orb.Bound{Min: orb.Point{minLon, minLat}, Max: orb.Point{maxLon, maxLat}}
}
