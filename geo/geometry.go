package geo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/paulmach/orb"
)

// reprojectHint ends messages about coordinates in a CRS geo cannot read.
const reprojectHint = "name the file's CRS in its \"crs\" member or in the layer's crs option, or reproject it, e.g. ogr2ogr -t_srs EPSG:4326 out.geojson in.geojson"

// geometry validates the "geometry" member of a feature for the layer kind.
func (p *parser) geometry(c *featureCtx, raw json.RawMessage) (orb.Geometry, bool) {
	if len(raw) == 0 || isNull(raw) {
		c.problem(ErrGeometry, "has no geometry: %s needs %s geometries", p.kind.phrase(), expectedTypes(p.kind))
		return nil, false
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		c.problem(ErrGeometry, `"geometry" is %s, expected a GeoJSON geometry object`, rawKind(raw))
		return nil, false
	}
	typ := stringMember(members["type"])
	if !slices.Contains(p.kind.allowed(), typ) {
		shown := rawValue(members["type"])
		if typ == "" {
			shown = "missing"
		}
		c.problem(ErrGeometry, "geometry type %s is not allowed in %s (expected %s)", shown, p.kind.phrase(), expectedTypes(p.kind))
		return nil, false
	}
	if crs, ok := members["crs"]; ok && !isNull(crs) {
		if msg := sameCRSMember(crs, p.crs); msg != "" {
			c.problem(ErrCRS, "%s", msg)
			return nil, false
		}
	}
	rawCoords, ok := members["coordinates"]
	if !ok || isNull(rawCoords) {
		c.problem(ErrGeometry, "geometry.coordinates is missing")
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(rawCoords))
	dec.UseNumber()
	var coords any
	if err := dec.Decode(&coords); err != nil {
		c.problem(ErrCoordinates, "geometry.coordinates: %v", err)
		return nil, false
	}
	w := &walker{c: c, crs: p.crs}
	var g orb.Geometry
	switch typ {
	case "Point":
		g = w.position(coords, "")
	case "LineString":
		g = w.line(coords, "", "line")
	case "MultiLineString":
		g = w.multiLine(coords)
	case "Polygon":
		g = w.polygon(coords, "", "polygon")
	case "MultiPolygon":
		g = w.multiPolygon(coords)
	}
	return g, !c.bad
}

// walker converts decoded coordinates to orb types, recording problems.
// After the first problem with a position's values it stops checking
// positions, since the rest usually share the mistake.
type walker struct {
	c       *featureCtx
	crs     CRS
	stopped bool
}

func (w *walker) fail(err error, format string, args ...any) {
	w.c.problem(err, format, args...)
}

// array expects an array at path.
func (w *walker) array(v any, path, what string) ([]any, bool) {
	a, ok := v.([]any)
	if !ok {
		w.fail(ErrCoordinates, "geometry.coordinates%s is %s, expected %s", path, jsonKind(v), what)
		return nil, false
	}
	return a, true
}

func (w *walker) position(v any, path string) orb.Point {
	if w.stopped {
		return orb.Point{}
	}
	a, ok := w.array(v, path, "a position [lon, lat]")
	if !ok {
		w.stopped = true
		return orb.Point{}
	}
	if len(a) < 2 {
		w.stopped = true
		w.fail(ErrCoordinates, "geometry.coordinates%s has %d numbers, expected a position [lon, lat] (optionally with altitude)", path, len(a))
		return orb.Point{}
	}
	var xy [3]float64
	for i := 0; i < len(a) && i < 3; i++ {
		n, isNum := a[i].(json.Number)
		if !isNum {
			w.stopped = true
			w.fail(ErrCoordinates, "geometry.coordinates%s[%d] is %s, expected a number", path, i, jsonKind(a[i]))
			return orb.Point{}
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			w.stopped = true
			w.fail(ErrCoordinates, "geometry.coordinates%s[%d] is %s, not a finite number", path, i, n)
			return orb.Point{}
		}
		xy[i] = f
	}
	pt := orb.Point{xy[0], xy[1]}
	if !w.crs.IsWGS84() {
		return w.reproject(pt, path)
	}
	if msg := rangeProblem(pt); msg != "" {
		w.stopped = true
		w.fail(ErrCoordinates, "geometry.coordinates%s %s %s", path, fmtPoint(pt), msg)
	}
	return pt
}

// rangeProblem explains why pt is not a WGS84 lon/lat, or returns "".
func rangeProblem(pt orb.Point) string {
	lon, lat := pt[0], pt[1]
	if lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90 {
		return ""
	}
	msg := "is outside WGS84 lon/lat (lon -180..180, lat -90..90)"
	switch {
	case math.Abs(lon) > 1000 || math.Abs(lat) > 1000:
		msg += "; the values look projected (metres, as in EPSG:3003 Monte Mario / Italy zone 1, EPSG:32632 UTM zone 32N or EPSG:3857 Web Mercator): " + reprojectHint
	case math.Abs(lat) <= 180 && math.Abs(lon) <= 90:
		msg += `; are lon and lat swapped? GeoJSON positions are [lon, lat]`
	}
	return msg
}

func (w *walker) positions(v any, path string) []orb.Point {
	a, ok := w.array(v, path, "an array of positions")
	if !ok {
		w.stopped = true
		return nil
	}
	pts := make([]orb.Point, 0, len(a))
	for i, e := range a {
		if w.stopped {
			return nil
		}
		pts = append(pts, w.position(e, fmt.Sprintf("%s[%d]", path, i)))
	}
	return pts
}

// line converts a LineString's positions; label names it in messages.
func (w *walker) line(v any, path, label string) orb.LineString {
	pts := w.positions(v, path)
	if w.stopped {
		return nil
	}
	if len(pts) < 2 {
		w.fail(ErrGeometry, "%s has %s, expected at least 2", label, plural(len(pts), "position"))
		return nil
	}
	return orb.LineString(pts)
}

func (w *walker) multiLine(v any) orb.MultiLineString {
	a, ok := w.array(v, "", "an array of lines")
	if !ok {
		return nil
	}
	if len(a) == 0 {
		w.fail(ErrGeometry, "MultiLineString has no lines")
		return nil
	}
	ml := make(orb.MultiLineString, 0, len(a))
	for i, e := range a {
		ml = append(ml, w.line(e, fmt.Sprintf("[%d]", i), fmt.Sprintf("line %d", i)))
		if w.stopped {
			return nil
		}
	}
	return ml
}

// polygon converts a Polygon's rings; label names it in messages.
func (w *walker) polygon(v any, path, label string) orb.Polygon {
	a, ok := w.array(v, path, "an array of rings")
	if !ok {
		w.stopped = true
		return nil
	}
	if len(a) == 0 {
		w.fail(ErrGeometry, "%s has no rings", label)
		return nil
	}
	poly := make(orb.Polygon, 0, len(a))
	for i, e := range a {
		pts := w.positions(e, fmt.Sprintf("%s[%d]", path, i))
		if w.stopped {
			return nil
		}
		switch {
		case len(pts) < 4:
			w.fail(ErrGeometry, "%s ring %d has %s, expected at least 4 (a closed ring repeats its first position last)", label, i, plural(len(pts), "position"))
		case pts[0] != pts[len(pts)-1]:
			w.fail(ErrGeometry, "%s ring %d is not closed (first %s != last %s)", label, i, fmtPoint(pts[0]), fmtPoint(pts[len(pts)-1]))
		}
		poly = append(poly, orb.Ring(pts))
	}
	return poly
}

func (w *walker) multiPolygon(v any) orb.MultiPolygon {
	a, ok := w.array(v, "", "an array of polygons")
	if !ok {
		return nil
	}
	if len(a) == 0 {
		w.fail(ErrGeometry, "MultiPolygon has no polygons")
		return nil
	}
	mp := make(orb.MultiPolygon, 0, len(a))
	for i, e := range a {
		mp = append(mp, w.polygon(e, fmt.Sprintf("[%d]", i), fmt.Sprintf("polygon %d", i)))
		if w.stopped {
			return nil
		}
	}
	return mp
}

// fmtPoint renders a position as [lon,lat] with the shortest exact digits.
func fmtPoint(p orb.Point) string {
	return "[" + fmtNum(p[0]) + "," + fmtNum(p[1]) + "]"
}

func fmtNum(f float64) string {
	if math.Abs(f) < 1e9 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// plural renders n and the noun, with an "s" unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
