// Package geo loads and validates the GeoJSON layers of the digital twin
// (areas, road segments, sensor sites) and answers the spatial questions the
// twin asks of them: which area holds a point, which road is nearest a point
// and how far it is in metres, which features fall in a map viewport. It is
// built on github.com/paulmach/orb types and its planar and geo packages,
// and does no I/O beyond reading the file it is given.
//
// # Loading
//
// LoadLayer and ParseLayer read one FeatureCollection as a layer of a Kind:
// areas (Polygon, MultiPolygon), roads (LineString, MultiLineString) or
// sites (Point). The JSON is read with encoding/json rather than
// orb/geojson, for three reasons: orb/geojson drops the "crs" member that
// must be checked, it cannot say on which line a bad feature starts, and it
// pulls in a BSON codec. Every problem found is reported, up to
// LoadOptions.MaxErrors, in one *LayerError whose lines read
//
//	firenze.geojson:14: features[12] (id 048015 "Fiesole"): polygon ring 0 is not closed (first [11.29,43.8] != last [11.3,43.81])
//
// and which unwraps to sentinels (ErrSyntax, ErrStructure, ErrCRS,
// ErrCoordinates, ErrGeometry, ErrID) for callers that branch. The line is
// where the feature starts; syntax errors also give the column and the byte
// offset. testdata/bad holds one file per refused case with its exact
// message.
//
// What is refused: invalid JSON; anything but a non-empty FeatureCollection
// of Features; a "crs" member naming a CRS that is not supported, or that
// disagrees with LoadOptions.CRS, or a feature's "crs" naming another CRS
// than the layer's; geometries of a type the kind does not allow;
// positions that are not arrays of at least two numbers, not finite (JSON
// has no NaN, but 1e400 overflows a float64), or — for WGS84 files —
// outside lon -180..180, lat -90..90 (values in the thousands get a hint
// that the file is projected and its CRS should be named); for projected
// files, positions that reproject outside the CRS's area of use (degrees
// in a file said to be in metres, swapped easting and northing, the wrong
// UTM zone); rings with fewer than 4 positions or whose last position
// differs from the first; lines with fewer than 2 positions; features
// without an ID or sharing one.
//
// # Coordinate reference systems
//
// Italian municipal GIS layers come in the national and European
// projections, so files are read in any of SupportedCRS and reprojected
// to WGS84 lon/lat on load: EPSG:4326 (and the CRS84 names), 4258 ETRS89
// and 6706 RDN2008 lon/lat, 3003 and 3004 Monte Mario / Italy zone 1 and
// 2 (Gauss-Boaga), 6707/6708 and 7791/7792 RDN2008 / UTM 32N and 33N,
// 25832/25833 ETRS89 / UTM 32N and 33N, 32632/32633 WGS 84 / UTM 32N and
// 33N. The CRS is the file's "crs" member (GeoJSON 2008, as GDAL and
// QGIS write it: "urn:ogc:def:crs:EPSG::3003", "EPSG:3003", ...) or
// LoadOptions.CRS for files without one; positions are read as [easting,
// northing] whatever the EPSG axis order (6707 and 6708 are N-E in EPSG's
// register), as GDAL and QGIS write GeoJSON. Layer.CRS records the
// file's CRS; features are always WGS84.
//
// Reprojection uses github.com/wroge/wgs84 (pure Go, no cgo, MIT): its
// Helmert datum shift and geocentric conversions and its transverse
// Mercator forward formula. Monte Mario is shifted with EPSG
// transformation "Monte Mario to WGS 84 (4)" (Italy mainland, 4 m), the
// one PROJ picks; ETRS89 and RDN2008 with the null transformation, as
// PROJ does. The library's inverse transverse Mercator is wrong by metres
// (wroge/wgs84 issue #30), so geo inverts the forward formula by Newton's
// method instead. Against PROJ 9.1.1 the result is within 0.09 m in
// Firenze and Bari and 0.5 m at the edge of a UTM zone's area of use
// (Snyder's series in the library, where PROJ uses Krüger's): far below
// the 4 m of the Monte Mario shift and the precision boundaries are drawn
// with. TestControlPoints holds the control points.
//
// What is accepted on purpose: either ring orientation (the ISTAT files
// follow the pre-RFC 7946 winding, and point-in-polygon does not depend on
// it); self-intersecting rings (checking them costs O(n log n) per ring and
// a bowtie still answers point-in-polygon consistently by the even-odd
// rule); altitude and further position elements, which are dropped.
//
// A feature's ID comes from LoadOptions.IDProperty (for ISTAT
// municipalities "com_istat_code") or else its GeoJSON "id" member; the
// twin keys its entities by it, so it is required and unique.
//
// # Queries
//
// NewIndex indexes any layer for Query (bounding-box intersection, the
// map-viewport question). NewAreas adds Locate, NewRoads adds Nearest. All
// are immutable after construction and safe for concurrent use.
//
// Locate uses planar.PolygonContains, so a polygon's edges are straight
// lines in lon/lat, as the data was drawn. Boundary rule: a point on an
// outer ring is inside; a point on a hole's ring is outside that polygon (it
// belongs to the enclave that fills the hole); where areas share an edge or
// overlap, the first feature in layer order wins, so the answer is
// deterministic.
//
// Nearest measures geodesic distance, never degrees: for each candidate
// segment it projects the point onto the segment in an equirectangular
// frame centred on the point (x scaled by the cosine of its latitude),
// clamps to the segment's ends, and measures the haversine distance
// (geo.DistanceHaversine, sphere of radius orb.EarthRadius) to that closest
// point. For city-scale segments (up to a few kilometres) that differs
// from the true minimum by centimetres: against a brute-force minimum over
// the segment densified to 1 m steps, at the latitudes of Bari, Firenze and
// 65°N, the largest difference measured was 0.015 m. Long segments
// (tens of kilometres) lose accuracy, as the frame's scale is taken at the
// point; densify them when loading if that matters.
//
// Candidates come from a lon/lat box that holds every point within a
// radius (Matuschek's bounding coordinates; all longitudes near a pole or
// across the antimeridian). Nearest starts with a 50 m radius and widens it
// fourfold up to maxMetres: a segment nearer than the best one found
// within a radius lies within that radius, so the first radius with a hit
// settles the answer, and the cost follows the distance to the nearest
// road, not maxMetres.
//
// # Index
//
// The index is a static R-tree written here, packed once with
// Sort-Tile-Recursive, fan-out 16, flat slices per level. Areas index each
// polygon of a MultiPolygon on its own and roads each segment on its own,
// so exclaves and long roads do not make large boxes. orb/quadtree was not
// used: it indexes points, and a point-in-area query needs boxes that
// contain the point.
//
// Measured on a shared 2-core Intel Xeon (go test -bench, figures vary
// with the load of the machine):
//
//	BenchmarkLocate (82 real municipalities)      ~165,000 lookups/s
//	BenchmarkLocateLinear (box scan, same data)   ~160,000 lookups/s
//	BenchmarkLocateGrid (10,000 squares) tree     ~1,600,000 lookups/s
//	BenchmarkLocateGrid (10,000 squares) scan       ~115,000 lookups/s
//	BenchmarkNearest (fixture roads, 500 m)       ~1,800,000 lookups/s
//	BenchmarkNearestGrid (20,200 segments)        ~1,000,000 lookups/s
//	BenchmarkLoad (both ISTAT files, 570 KB)      ~26 MB/s
//
// On the 82 municipalities the tree and the scan cost the same: the time
// goes into the point-in-polygon test over rings of hundreds of vertices.
// The tree pays off at the scale of census sections or a city's road
// graph.
//
// # Data
//
// geo/data holds the shapes the product ships: the 41 municipalities each
// of the Città Metropolitana di Firenze and di Bari (ISTAT, CC BY 4.0; see
// geo/data/README.md for the attribution that must go with them).
// geo/testdata holds hand-made road and site fixtures and the bad cases.
package geo
