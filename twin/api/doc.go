// Package api is the digital twin's HTTP API, served by ponte-ingest under
// /api/v1/: the entities as GeoJSON, a Server-Sent Events stream of their
// changes, the indicators per area and for the city as JSON and CSV, the
// history of one point of an entity from InfluxDB, and the OpenAPI 3.1
// document that describes all of it (openapi.json, checked in and
// embedded).
//
// # Who may call what
//
// Operator endpoints (entities, gateways, stream, history, snapshot) need
// one of the tokens of Config.Tokens as "Authorization: Bearer <token>".
// A token in the URL (?token=) is refused with 401, even a right one:
// URLs end up in proxies' and servers' access logs. A browser's
// EventSource cannot set headers, so the stream also opens with a
// single-use ticket (ticket.go): POST /api/v1/stream/ticket with the token
// in the header returns one, good for one GET /api/v1/stream?ticket=
// within 60 s. Tokens are compared in constant time. Anything else gets
// 401 with a JSON error.
//
// # Time travel
//
// GET /api/v1/snapshot?at= answers every site's latest values and
// freshness at a past moment from the time-series store (snapshot.go),
// and the areas' and city's indicators then, computed by the twin's own
// indicator code from those values (snapshot_indicators.go,
// twin.PastIndicators); the map's time slider replays a past window with
// it, areas included.
//
// The public endpoints (indicators, indicators.csv, indicators/history,
// areas.geojson, sites.geojson, config) are read-only: CORS open to any origin
// (dashboards on other sites), an ETag with If-None-Match answered by 304,
// a public Cache-Control, and a token bucket per client IP
// (Config.PublicRate, PublicBurst; 429 with Retry-After beyond; ingest's
// twin.public_api). The client IP is the connection's remote address,
// unless that is one of Config.Public.TrustedProxies: then it is the
// rightmost X-Forwarded-For address that is not a trusted proxy (public.go,
// clientip.go). The buckets live in a map bounded by LRU eviction
// (Config.MaxClients), so a scan from many addresses cannot grow memory.
// sites.geojson gives each site's place, type, name, area, category and
// freshness and nothing an operator's token guards (no values, gateways
// or devices); it is rendered at most every 10 s (sites.go), as freshness
// changes while the areas' shapes do not.
//
// The alarms' routes (/api/v1/alarms, /api/v1/alarms/{id}, POST
// /api/v1/alarms/{id}/ack, /api/v1/alarms/stream) are operator endpoints
// too; Config.Alarms serves them (package twin/alarms), 503 without it.
// So are the NGSI-LD subscriptions' (/ngsi-ld/v1/subscriptions and
// /{id}): Config.Subscriptions serves them (package twin/ngsild/subs) with
// the caller's scope narrowed by NGSILD-Tenant (SubscriptionScope), 501
// without it (subscriptions.go).
//
// # The public answers
//
// Every public answer carries the data licence (Config.Public.Licence): a
// Link rel="license" header, and a "licence" member in the JSON and
// GeoJSON bodies. Answers of gzipMin bytes or more are gzipped for a
// client that accepts it (compressed once per body, gzip.go), with their
// own ETag. A body holds no clock, so its ETag (its hash) changes only
// when the data do: the indicators' "generated" is the time of the newest
// value, not of the request. /indicators gives each indicator's label and
// definition once per answer ("definitions"), in the language chosen by
// ?lang=, else Accept-Language, else Config.Public.Language (Italian);
// /config tells the page that language, the time zone and the licence.
// /indicators/history rebuilds an area's indicator over a day or a week
// from InfluxDB through the HistoryQuerier, hourly, cached five minutes
// per key (indhistory.go).
//
// # Errors
//
// Every error answer is JSON: {"error": "<what was wrong>", "parameter":
// "<the query parameter or header at fault>"} (parameter only when one is).
// Bad parameters (a bbox of three numbers, a latitude out of range, an
// every of 0) are 400 naming the parameter and what was expected.
//
// # The stream
//
// GET /api/v1/stream sends each change of an entity matching the filter
// as "id: <seq>\nevent: entity\ndata: <Feature>\n\n". A stream writes
// and flushes its pending events together at most every
// Config.StreamCoalesce (75 ms; an indicators event, a resync or a drop
// is written when it comes; sooner
// when 64 KiB are pending): every event is sent, in order, with its id,
// in fewer writes (one per change and client cost most of ingest's CPU
// at 1,000 changes/s and 1,000 clients). Over HTTP/1.1 the stream's body
// is not chunked: it ends when the connection closes (one system call per
// write instead of three). An entity that no longer exists (its device left the
// inventory when its gateway re-enrolled) is sent once as "event: removed"
// with its last state as the Feature. A client resumes with Last-Event-ID (header, or the
// lastEventId query parameter); when the twin no longer holds the changes
// after that ID it sends "event: resync" with data {} and the client must
// reload the entities; so it does for an ID beyond the twin's latest
// change (one from before ingest restarted). The indicators, when they changed, are sent as
// "event: indicators" at most once per Config.IndicatorInterval (1 s):
// the stream's first in full (the Indicators of GET /indicators), later
// ones with each indicator's name, value, sensors and updatedAt only (its
// unit, window and definition never change); they carry no id so they do
// not move the resume point. A comment ": ping"
// every Config.Heartbeat (15 s) keeps proxies from closing an idle stream.
// A client too slow to keep up is dropped by the twin; its stream ends and
// the browser reconnects with its last ID. Config.MaxStreams (5000) caps
// concurrent streams, beyond which the answer is 503 with Retry-After.
// Each change is encoded to its SSE frame once and shared by every stream
// sending it (a small lock-free cache keyed by Seq).
//
// # The fleet
//
// GET /api/v1/gateways lists every gateway entity, sorted by ID, with its
// fleet attributes (twin's fleet.go) as plain JSON fields: state, agent
// version, last seen, readings buffered and the oldest, devices up and
// bad, revoked; null where the gateway has not said yet. It is an
// operator endpoint: which gateways a city runs, where, and which lag is
// not for the public.
//
// # The sites' tiles
//
// GET /api/v1/tiles/sites/{z}/{x}/{y} answers the sites and gateways of
// the caller's scope in one tile as a Mapbox Vector Tile (twin/sitetiles:
// clustered by freshness below zoom 12 and, from it, where more than 32
// sites share a 64-px cell), for the operators' map at
// 100,000 sites (issue 17); GET /api/v1/tiles/sites.json their counts and
// where to frame them. Zooms outside 4-18 and coordinates outside the
// zoom's grid are refused (400), so a client cannot make the server cut
// tiles nobody draws; cut tiles are kept per scope, filter and tile, at
// most 2,048 tiles and 32 MiB, each until the twin has changed and a
// second has passed (tiles.go). Operator endpoints: where every sensor of
// a city is is not for the public.
//
// # History
//
// GET /api/v1/history reads mean values per time window through a
// HistoryQuerier; a boolean point's value per window is the share of
// readings that were true (influx_bool.go: InfluxQL 1.8 has no mean of a
// boolean). Its point is a point name of the device's profile, the
// InfluxDB field (no2, LAeq, lane1_intensity, humidity), which for most
// points is also the twin attribute's name; attributes the twin derives
// (airQualityIndex, relativeHumidity as a ratio) have no series of their
// own, except a traffic site's intensity, which is summed over its lanes'
// laneN_intensity series per window in the store and given in vehicles
// per hour (lanes.go). The unit is the twin attribute's of
// the same name, "" when there is none. InfluxHistory is the implementation for InfluxDB 1.8's
// InfluxQL /query endpoint, which is what CI runs; InfluxDB 2.x and 3.x
// speak Flux and SQL instead and need their own HistoryQuerier (the data
// mapping is the same: see ingest/influx's package doc).
//
// # Concurrency
//
// An *API is safe for concurrent use by any number of requests; it holds
// no goroutine of its own (each stream runs in its request's goroutine
// and ends with the request's context).
package api
