// Package influxschema holds the naming rules of Ponte's InfluxDB data,
// the one place both sides read them from: ingest's sink (ingest/influx),
// which writes readings as line protocol, and the twin's history queries
// (twin/api), which read them back with InfluxQL. A rule changed here
// changes what is written and what is queried together.
//
// One reading is one point:
//
//   - measurement: the category of the reading's device (wire.Category:
//     "energy", "air", "traffic", ...), so each category is its own
//     measurement (its own table in InfluxDB 3); the configured fallback
//     (DefaultMeasurement, "ponte", unless configured) for a device of
//     unknown category. See Measurement.
//   - tags: TagGateway (the batch's gateway) and TagDevice (the reading's
//     device) identify the series; TagArea and TagType (the device's area
//     and category) are left out when unknown.
//   - field: the point name (ValueField) holding the value, or, for a
//     reading of bad quality, QualityField holding "quality: reason".
//
// How names are escaped is not here: line protocol's escapes belong to
// the writer and InfluxQL's quoting to the querier, and neither side
// needs the other's.
//
// The package is a leaf (it imports only wire), so that the twin can use
// it without importing ingest.
package influxschema
