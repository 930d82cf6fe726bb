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
// agents' site files, so ingest does not depend on their format. Readings
// of devices a gateway does not list are dead-lettered by default
// (unknown_devices: dead_letter); with accept, or for a gateway without a
// list, at most max_new_devices unlisted devices per gateway and hour
// become new series (ingest/service's series cap), so one gateway cannot
// explode InfluxDB's series.
//
// Secrets (secrets.go, rules in internal/secret): every password and token
// may be inline, in <field>_file or in <field>_env; Parse resolves them and
// Validate refuses the shipped placeholders, short secrets and cheap
// bcrypt hashes at the field and line they came from. SecretWarnings names
// the files holding secrets that others may read.
package config
