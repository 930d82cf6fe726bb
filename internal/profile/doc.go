// Package profile holds device profiles: one YAML file per device model and
// firmware line (firmware-profiles/), describing how to read that model over
// Modbus, over a serial line or from MQTT payloads, and what each value means
// (type, unit, scaling).
//
// A profile describes a model; a device instance (address, unit ID, poll
// interval, location) belongs to the site config. That split, borrowed from
// EdgeX, lets one profile serve every SDM630 in the city.
//
// Load parses and validates a profile in one step. Validation is complete:
// every problem is reported, each as a *yamlconf.FieldError naming the file,
// line and field path, so a technician fixes a profile in one pass. A profile
// that loaded without error is safe to use: sources do not re-check it.
//
// Addresses are explicit and 0-based, as they travel in the Modbus PDU:
// holding register "40001" in a vendor's manual is table holding, address 0.
// The schema is documented in firmware-profiles/README.md.
package profile
