// Package deadletter keeps what ingest could not accept, so an operator can
// see why and replay it after a fix, without it ever blocking the gateway's
// later batches.
//
// Each dead letter is two files in Dir, named by arrival time and a counter
// so that names sort oldest first:
//
//	20261122T101502.123456789Z-000042.bin   the raw payload (an encoded
//	                                        wire.Batch, or whatever arrived)
//	20261122T101502.123456789Z-000042.json  {reason, detail, topic, gateway,
//	                                         transport, time, bytes}
//
// The directory is bounded by MaxBytes: when a new letter would pass it,
// the oldest letters are removed and counted in
// ponte_ingest_dead_letters_evicted_total. Letters are written without
// fsync: they are evidence for people, not data ingest has promised to
// keep, and a batch refused as a whole is never acknowledged to the
// gateway anyway.
package deadletter
