// Package ngsild is the read side of Ponte's twin as NGSI-LD (ETSI GS CIM
// 009): entities in the normalized and keyValues forms, the JSON-LD
// @context Ponte serves itself, and the query language of
// GET /ngsi-ld/v1/entities (type, attrs, q, georel/geometry/coordinates,
// limit/offset). It has no HTTP server of its own: a handler parses the
// request's parameters with ParseQuery, keeps the entities Query.Match
// accepts, pages them with Query.Page, and renders each with Represent.
//
// Decisions:
//   - Attribute names are the twin's (twin/mapping.go), which follow the
//     FIWARE Smart Data Models; the context (context.jsonld) maps them to
//     the models' IRIs. Terms that two models define differently
//     (occupancy in Transportation and Parking, relativeHumidity in
//     Environment and Weather) are resolved with JSON-LD 1.1 type-scoped
//     contexts, so ParkingSpot's occupancy is Parking's. Names the models
//     do not define expand with the NGSI-LD default vocabulary.
//   - Units: the twin keeps UCUM-style units; unitCode is the UN/CEFACT
//     Recommendation 20 code where the table in units.go has one, and
//     absent otherwise (vehicles per hour has none), rather than guessed.
//   - q follows the grammar of clause 4.9 for a subset: attribute names,
//     !attribute (not exists), ==, !=, >, >=, <, <=, ; (AND), | (OR),
//     parentheses, numbers, quoted strings, true and false. The grammar
//     states no precedence between ; and |, so mixing them without
//     parentheses is refused, as Orion-LD refuses it. Everything else in
//     the grammar (paths a.b and a[b], value lists, ranges, ~= patterns,
//     unquoted dates) is refused with the position where it starts. No
//     whitespace, as in the grammar.
//   - georel: near;maxDistance==m and near;minDistance==m (distances on
//     the WGS84 sphere, orb/geo), within and intersects, on the location
//     GeoProperty; geometry Point or Polygon. Other relations and
//     geometries are refused.
//   - limit is 0..1000 with default 20, offset >= 0, as Orion-LD bounds
//     them (limit 0 asks only for the count, so it needs count=true).
//   - Errors are ProblemDetails (RFC 7807) with the NGSI-LD error types
//     of clause 5.5.2; the detail names the parameter.
package ngsild
