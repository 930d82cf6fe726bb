// Package backoff computes how long to wait before retrying something
// that failed: exponential from a base, capped at a maximum, with optional
// jitter. It is the one backoff of Ponte: edge sources (a failing device,
// a lost port or broker), the uplink's reconnects, ingest's InfluxDB
// writes and its pipeline retries all use it.
//
// Attempts count from 0: attempt 0 waits Base, attempt n waits
// Base*2^n, never more than Max. The doubling cannot overflow, however
// large n grows (a gateway may retry a dead device for months).
//
// Jitter spreads a fleet's retries. Full jitter (uniform in [0, d)) is for
// many clients that lost one server together and must not come back in
// waves; equal jitter (uniform in [d/2, d)) keeps at least half the wait,
// for a few instances retrying one dependency. The random source is a
// field, so tests fix it and assert exact waits.
package backoff
