// Package wire is the contract between Ponte's edge agents and ingest: the
// Reading every source produces, and (from the uplink issue on) the versioned
// batch that carries readings from a gateway's buffer to ingest.
//
// Both sides import this package and nothing else of each other, so it holds
// only plain types and their encoding: no I/O, no logging, no configuration.
package wire
