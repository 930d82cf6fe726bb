// Package dedup keeps ingest's exactly-once state: for each gateway and
// buffer epoch, the highest sequence number whose readings are durably
// written (InfluxDB accepted them, or they were dead-lettered). A batch at
// or below that mark is a replay: ingest acknowledges it again and neither
// rewrites nor re-applies it.
//
// # Persistence
//
// The whole state is one small JSON file (state.json) in Dir, rewritten
// atomically on every advance: temporary file, fsync, rename, fsync of the
// directory. Concurrent Advance calls share writes (group commit): a
// caller whose change was already covered by another caller's write
// returns without writing, so N gateways advancing together cost about one
// fsync, not N.
//
// # Epochs
//
// A gateway's buffer starts a new random epoch only when its continuity is
// lost (both metadata and segments gone). Late batches of an old epoch can
// still arrive (a replay racing the new epoch), so the store keeps the
// MaxEpochs (default 4) most recently advanced epochs per gateway and
// forgets older ones; a batch of a forgotten epoch would be written again
// (InfluxDB merges identical points) and re-applied to the twin.
package dedup
