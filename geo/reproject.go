package geo

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/wroge/wgs84"
)

// A CRS is a coordinate reference system a layer file may be written in.
// Positions in it are reprojected to WGS84 lon/lat on load. CRS values are
// immutable and safe for concurrent use.
type CRS struct {
	// Code is the EPSG code (4326 for WGS84 lon/lat).
	Code int
	// Name is the EPSG name, for messages.
	Name string
	// area is the lon/lat box of the CRS's area of use (EPSG's, padded
	// by about half a degree): a reprojected position outside it means the
	// file is not in this CRS.
	area [4]float64 // min lon, min lat, max lon, max lat
	// crs converts to WGS84; nil for WGS84 lon/lat itself.
	crs wgs84.CoordinateReferenceSystem
}

// String renders the CRS as "EPSG:3003 (Monte Mario / Italy zone 1)".
func (c CRS) String() string {
	return "EPSG:" + strconv.Itoa(c.Code) + " (" + c.Name + ")"
}

// IsWGS84 says whether positions in c are already WGS84 lon/lat.
func (c CRS) IsWGS84() bool { return c.crs == nil }

// ToWGS84 converts a position of c (easting, northing in metres, or lon,
// lat in degrees for the geographic CRSs) to WGS84 lon/lat. It does not
// check the result; see inArea.
func (c CRS) ToWGS84(x, y float64) (lon, lat float64) {
	if c.crs == nil {
		return x, y
	}
	lon, lat, _ = wgs84.Transform(c.crs, wgs84.LonLat())(x, y, 0)
	return lon, lat
}

// inArea says whether a WGS84 lon/lat lies in c's area of use.
func (c CRS) inArea(lon, lat float64) bool {
	return lon >= c.area[0] && lat >= c.area[1] && lon <= c.area[2] && lat <= c.area[3]
}

// Datums of the supported CRSs, as wgs84 datums: an ellipsoid and the
// 7-parameter Helmert transformation to WGS84 (position vector
// convention, as PROJ's +towgs84 and wgs84.Helmert take it).
var (
	// Monte Mario (EPSG:4265), International 1924 ellipsoid, with EPSG
	// transformation 1660 "Monte Mario to WGS 84 (4)" (Italy mainland,
	// accuracy 4 m), the one PROJ picks for the mainland.
	monteMario = wgs84.Helmert(6378388, 297, -104.1, -49.1, -9.9, 0.971, -2.917, 0.714, -11.68)
	// ETRS89 and RDN2008 (the Italian realisation of ETRF2000): GRS80,
	// no shift to WGS84 (PROJ's and EPSG's null transformation; the true
	// difference is below a metre in Italy).
	grs80 = wgs84.Datum{Spheroid: wgs84.GRS80{}}
	// WGS84 itself.
	wgs84Datum = wgs84.Datum{}
)

// Areas of use, lon/lat boxes padded by about half a degree.
var (
	italy      = [4]float64{5.9, 35.5, 19.0, 47.6}
	italyZone1 = [4]float64{5.9, 36.0, 13.0, 47.6}  // EPSG: 6.0..12.0 E
	italyZone2 = [4]float64{11.5, 35.5, 19.0, 47.6} // EPSG: 12.0..18.99 E
	utm32N     = [4]float64{5.5, 0, 12.5, 84.5}
	utm33N     = [4]float64{11.5, 0, 18.5, 84.5}
	world      = [4]float64{-180, -90, 180, 90}
)

// tm is a transverse Mercator CRS on datum d. wgs84 v1.1.7's inverse
// transverse Mercator is wrong by metres away from the central meridian
// (an integer-division exponent, wroge/wgs84 issue #30), so the
// projection is wrapped in newtonTM, which inverts the library's own
// forward formula (correct) to full precision.
func tm(d wgs84.Datum, lon0, k, falseE float64) wgs84.CoordinateReferenceSystem {
	p := d.TransverseMercator(lon0, 0, k, falseE, 0)
	p.Projection = newtonTM{p.Projection}
	return p
}

// utm is UTM zone (northern hemisphere) on datum d.
func utm(d wgs84.Datum, zone int) wgs84.CoordinateReferenceSystem {
	return tm(d, float64(zone*6-183), 0.9996, 500000)
}

// supportedCRS lists the CRSs a layer file may be in: WGS84 lon/lat and
// those Italian municipal GIS layers are published in. It is never
// modified.
var supportedCRS = []CRS{
	{Code: 4326, Name: "WGS 84", area: world},
	{Code: 4258, Name: "ETRS89 (lon/lat)", area: world, crs: grs80.LonLat()},
	{Code: 6706, Name: "RDN2008 (lon/lat)", area: italy, crs: grs80.LonLat()},
	{Code: 3003, Name: "Monte Mario / Italy zone 1", area: italyZone1, crs: tm(monteMario, 9, 0.9996, 1500000)},
	{Code: 3004, Name: "Monte Mario / Italy zone 2", area: italyZone2, crs: tm(monteMario, 15, 0.9996, 2520000)},
	{Code: 6707, Name: "RDN2008 / UTM zone 32N (N-E)", area: utm32N, crs: utm(grs80, 32)},
	{Code: 6708, Name: "RDN2008 / UTM zone 33N (N-E)", area: utm33N, crs: utm(grs80, 33)},
	{Code: 7791, Name: "RDN2008 / UTM zone 32N", area: utm32N, crs: utm(grs80, 32)},
	{Code: 7792, Name: "RDN2008 / UTM zone 33N", area: utm33N, crs: utm(grs80, 33)},
	{Code: 25832, Name: "ETRS89 / UTM zone 32N", area: utm32N, crs: utm(grs80, 32)},
	{Code: 25833, Name: "ETRS89 / UTM zone 33N", area: utm33N, crs: utm(grs80, 33)},
	{Code: 32632, Name: "WGS 84 / UTM zone 32N", area: utm32N, crs: utm(wgs84Datum, 32)},
	{Code: 32633, Name: "WGS 84 / UTM zone 33N", area: utm33N, crs: utm(wgs84Datum, 33)},
}

// SupportedCRS returns the CRSs layer files may be written in, by EPSG
// code.
func SupportedCRS() []CRS {
	out := slices.Clone(supportedCRS)
	slices.SortFunc(out, func(a, b CRS) int { return a.Code - b.Code })
	return out
}

// supportedList renders the supported codes for messages.
func supportedList() string {
	var b strings.Builder
	for i, c := range SupportedCRS() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(c.Code))
	}
	return "EPSG " + b.String()
}

// ParseCRS reads a CRS name as GeoJSON 2008 "crs" members and config
// files write it: "EPSG:3003", "urn:ogc:def:crs:EPSG::3003",
// "urn:ogc:def:crs:EPSG:6.6:3003", "http://www.opengis.net/def/crs/EPSG/0/3003",
// a bare "3003", or one of the CRS84 names of WGS84 lon/lat. A name that
// is not one of these, or names an unsupported code, is an error that
// lists the supported codes.
func ParseCRS(name string) (CRS, error) {
	name = strings.TrimSpace(name)
	for _, ok := range wgs84Names {
		if strings.EqualFold(name, ok) {
			return supportedCRS[0], nil
		}
	}
	code := epsgCode(name)
	if code == "" && name != "" && len(name) <= 6 && strings.Trim(name, "0123456789") == "" {
		code = name
	}
	if code == "" {
		return CRS{}, fmt.Errorf("CRS %q: expected an EPSG code such as \"EPSG:3003\" or \"urn:ogc:def:crs:EPSG::3003\" (supported: %s)", shorten(name), supportedList())
	}
	n, _ := strconv.Atoi(code)
	for _, c := range supportedCRS {
		if c.Code == n {
			return c, nil
		}
	}
	msg := fmt.Sprintf("CRS %q (EPSG:%d", shorten(name), n)
	if desc, ok := knownCRS[code]; ok {
		msg += " " + desc
	}
	return CRS{}, fmt.Errorf("%s) is not supported: supported are %s; reproject the file to one of them, e.g. ogr2ogr -t_srs EPSG:4326 out.geojson in.geojson", msg, supportedList())
}

// shorten cuts a name for messages.
func shorten(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// newtonTM is a transverse Mercator projection whose inverse is found by
// Newton's method on the wrapped projection's forward formula, started
// from the wrapped inverse. Three to four steps reach a residual below a
// micrometre within the zones Italian layers use.
type newtonTM struct{ p wgs84.Projection }

// FromLonLat implements wgs84.Projection.
func (t newtonTM) FromLonLat(lon, lat float64, s wgs84.Spheroid) (east, north float64) {
	return t.p.FromLonLat(lon, lat, s)
}

// ToLonLat implements wgs84.Projection.
func (t newtonTM) ToLonLat(east, north float64, s wgs84.Spheroid) (lon, lat float64) {
	lon, lat = t.p.ToLonLat(east, north, s)
	const h = 1e-7 // degrees, about a centimetre
	for range 8 {
		if math.IsNaN(lon) || math.IsNaN(lat) || math.IsInf(lon, 0) || math.IsInf(lat, 0) {
			return math.NaN(), math.NaN()
		}
		e0, n0 := t.p.FromLonLat(lon, lat, s)
		de, dn := east-e0, north-n0
		if math.Abs(de) < 1e-7 && math.Abs(dn) < 1e-7 {
			break
		}
		e1, n1 := t.p.FromLonLat(lon+h, lat, s)
		e2, n2 := t.p.FromLonLat(lon, lat+h, s)
		a, b := (e1-e0)/h, (e2-e0)/h // d east / d lon, d east / d lat
		c, d := (n1-n0)/h, (n2-n0)/h // d north / d lon, d north / d lat
		det := a*d - b*c
		if det == 0 || math.IsNaN(det) {
			return math.NaN(), math.NaN()
		}
		lon += (d*de - b*dn) / det
		lat += (a*dn - c*de) / det
	}
	return lon, lat
}
