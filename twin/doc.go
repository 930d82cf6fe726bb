// Package twin is Ponte's urban digital twin: the live state of sensor
// sites, road segments, areas and gateways, their freshness, and the
// indicators per area and for the whole city that operators and
// participation dashboards read.
//
// Ingest calls Apply once per newly durable batch (never for a replay), so
// the twin counts each reading once. Readers (the HTTP API in twin/api, the
// SSE stream) take snapshots and subscribe to changes; they never hold the
// twin's lock while writing to a client.
//
// Attribute names follow FIWARE Smart Data Models where one fits, so cities
// already on FIWARE recognise them.
package twin
