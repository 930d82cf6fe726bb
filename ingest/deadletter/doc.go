// Package deadletter keeps what ingest could not accept, so an operator can
// see why and replay it after a fix, without it ever blocking the gateway's
// later batches.
//
// Each dead letter is two files in Dir, named by its ID (arrival time and a
// counter, so that names sort oldest first):
//
//	20261122T101502.123456789Z-000042.bin       the raw payload (an encoded
//	                                            wire.Batch, or whatever arrived)
//	20261122T101502.123456789Z-000042.json      the Letter: id, reason,
//	                                            detail, transport, topic,
//	                                            gateway, epoch, time, bytes,
//	                                            readings and entries
//	20261122T101502.123456789Z-000042.replayed  written once it was replayed
//
// A letter says what was wrong so that a person need not decode the
// payload: the reason, the detail naming the rule (for a time out of range
// the accepted window; for an unknown device the gateway's device list)
// and, when the payload is a batch, one entry per refused reading (up to
// MaxEntries) with its seq, device, point, acquisition time, value, unit
// and quality. A letter of readings refused for their time also records
// the accepted window (Window: ingest's clock minus max_age to plus
// max_future), so each entry's offending time can be set against it;
// letters written before that field are read as before, without it.
// `ponte-ctl deadletter list|show` reads the directory.
//
// # Bounds
//
// MaxBytes caps each gateway's letters, not the directory: a new letter
// evicts the oldest letters of its own gateway only, counted in
// ponte_ingest_dead_letters_evicted_total. One gateway (broken, or
// hostile and flooding forged batches) therefore cannot remove the
// evidence of another. Letters whose gateway is unknown share one cap.
// The directory as a whole is bounded by MaxBytes times the number of
// gateways the broker or the HTTP intake admits.
//
// # Modes
//
// Letters hold what gateways sent (device names, values, locations): the
// directory is 0700 (Open restricts an existing one) and the files 0600.
//
// # Replay
//
// `ponte-ctl deadletter replay ID` asks ingest (POST
// /api/v1/deadletters/{id}/replay, operator token) to put a letter's batch
// through its pipeline again once the cause is fixed: validation under the
// configuration now in force, dedup, InfluxDB, the twin. Refused readings'
// seqs are already recorded as written in the gateway's dedup state (the
// gateway was acknowledged), so a replay dedups against a ledger of its
// own per letter instead, and a second replay is a duplicate; a batch
// refused as a whole for an unknown gateway goes through the live
// pipeline. Letters of corrupt or forged payloads are not replayable. The
// reasoning is written out in ingest/app/deadletters.go. MarkReplayed
// records a replay next to the letter.
//
// Letters are written without fsync: they are evidence for people, not
// data ingest has promised to keep, and a batch refused as a whole is never
// acknowledged to the gateway anyway.
package deadletter
