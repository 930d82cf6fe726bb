package geo

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/paulmach/orb"
)

// layerCRS settles the CRS of the layer's positions: the file's "crs"
// member, else LoadOptions.CRS, else WGS84. Both given and different is
// a problem (the file and the config disagree, and guessing which is
// right would misplace every area). It returns false after recording a
// problem.
func (p *parser) layerCRS(member json.RawMessage, line int) bool {
	opt := supportedCRS[0]
	if p.opts.CRS != "" {
		c, err := ParseCRS(p.opts.CRS)
		if err != nil { // Validate has refused it already; kept for ParseLayer callers
			p.layerProblem(0, ErrCRS, "crs option: %v", err)
			return false
		}
		opt = c
	}
	p.crs = opt
	if len(member) == 0 || isNull(member) {
		return true
	}
	c, msg := crsMember(member)
	if msg != "" {
		p.layerProblem(line, ErrCRS, "%s", msg)
		return false
	}
	if p.opts.CRS != "" && c.Code != opt.Code {
		p.layerProblem(line, ErrCRS, `"crs" is %s but the layer's crs option says %s: drop the option or correct it`, c, opt)
		return false
	}
	p.crs = c
	return true
}

// reproject converts a position of the layer's CRS to WGS84 lon/lat and
// checks it lands in the CRS's area of use: a file in another CRS than
// the one named (degrees in a file said to be in metres, a UTM file in
// the wrong zone) lands elsewhere, and would otherwise load misplaced.
func (w *walker) reproject(pt orb.Point, path string) orb.Point {
	lon, lat := w.crs.ToWGS84(pt[0], pt[1])
	out := orb.Point{lon, lat}
	if math.IsNaN(lon) || math.IsNaN(lat) || math.IsInf(lon, 0) || math.IsInf(lat, 0) || !w.crs.inArea(lon, lat) {
		w.stopped = true
		shown := "no position"
		if validPoint(out) {
			shown = fmt.Sprintf("[%.6f,%.6f]", lon, lat)
		}
		msg := fmt.Sprintf("geometry.coordinates%s %s in %s is %s in WGS84, outside the CRS's area of use (lon %g..%g, lat %g..%g)",
			path, fmtPoint(pt), w.crs, shown, w.crs.area[0], w.crs.area[2], w.crs.area[1], w.crs.area[3])
		switch {
		case math.Abs(pt[0]) <= 180 && math.Abs(pt[1]) <= 90:
			msg += "; the values look like lon/lat degrees: is the file in WGS84 (EPSG:4326)?"
		case pt[0] > 3e6 && pt[1] < 1.5e6:
			msg += "; are easting and northing swapped? positions are read as [easting, northing], as GDAL and QGIS write them"
		default:
			msg += "; is the CRS right?"
		}
		w.fail(ErrCoordinates, "%s", msg)
		return orb.Point{}
	}
	return out
}
