// Package config reads ponte-ingest's YAML configuration: one file for the
// broker, InfluxDB, the HTTP listener, the state and dead-letter
// directories, the validation policy and the gateways with their
// credentials and devices. Decoding is strict (package yamlconf): unknown
// fields are errors, and every problem is reported as file:line: field:
// what was expected. Defaults are set in code (Defaults), so an empty
// field means "the default", and the example in deploy/ingest/ponte-ingest.yaml
// shows every field.
//
// The device list per gateway feeds both the unknown-device policy and the
// InfluxDB tags (area, type). It is ingest's own list, not the edge
// agents' site files, so ingest does not depend on their format.
package config
