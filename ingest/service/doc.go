// Package service is ingest's pipeline: it turns a payload that arrived
// from a gateway (over MQTT or HTTP, see package intake) into readings
// written to the time-series sink exactly once in effect, applies the newly
// written readings to the twin, and says what to acknowledge.
//
// # Order of effects for one batch
//
//  1. Decode and check the batch as a whole: size, version, CRC, structure
//     (wire.Decode), a valid gateway ID, the gateway the transport vouched
//     for (topic or HTTP credentials) equal to the batch's, a known
//     gateway. A batch failing any of these is dead-lettered with its
//     reason and counted; the transport drops it (MQTT ack, HTTP 400) and
//     no acknowledgement goes to the gateway: it resends those records.
//     Later batches are written and applied meanwhile (see 5); the gap
//     stays open, visibly, until the gateway's buffer drops those records
//     at its cap and says so (wire.Batch.Retained). A batch refused for
//     its version or a broken encoding is an upgrade to finish or a bug,
//     and ingest does not guess.
//  2. Dedup filter, under the gateway's state lock (dedup.Store.Lock,
//     held to the end of the batch): readings the (gateway, epoch) state
//     records as written are dropped. A batch with nothing new is a
//     replay; it is acknowledged again with the mark and goes no further.
//  3. Readings with an absurd time (older than MaxAge or further than
//     MaxFuture ahead of ingest's clock) and, if the policy says so,
//     readings of devices the configuration does not list are
//     dead-lettered per reading; the rest of the batch goes on. A letter
//     of readings refused for their time records the window applied.
//     Refused readings are acknowledged with the rest (the letter keeps
//     them); a batch carrying wire.FlagAckRefused gets, in its ack, a
//     summary per device of what was refused (here and at step 4), so
//     the gateway does not show the device healthy. Every letter counts
//     in ponte_ingest_dead_letters_total{gateway,reason}; the gateway
//     label is the ID the transport vouched for when the configuration
//     lists it (or any valid ID when it lists none, the broker's ACL
//     deciding who publishes), else "_other", so forged IDs add no
//     series. Every batch, valid or not, and every status message
//     (StatusSeen) sets ponte_ingest_gateway_last_seen_timestamp_seconds
//     of a gateway so labelled ("_other" gets none).
//  4. Sink.Write, retried with backoff until it succeeds or the service
//     stops. While it blocks, the worker takes no more batches; the
//     transports stop reading (MQTT: paho's manual ack with the broker's
//     in-flight limit keeps the rest with the broker; HTTP: 503). Points
//     the sink rejects for good (InfluxDB 400) are dead-lettered.
//  5. The batch's seq range is recorded as written and the state is
//     persisted (one fsync, or one replicated compare-and-swap). Only now is the batch "durable". The
//     acknowledgeable mark moves only over contiguous written seqs: a
//     batch after a gap (a message lost by a crashed broker, a batch held
//     by another instance) is written and applied but not acknowledged
//     until the gap fills, or until the gateway declares in a batch or its
//     status (wire.Batch.Retained) that it no longer holds the missing
//     readings; those are counted (ponte_ingest_gateway_dropped_readings_total)
//     and logged. Never on a timer. An open gap shows in Gaps, in
//     ponte_ingest_gap_missing_readings and ponte_ingest_gap_open_seconds.
//     See package dedup.
//  6. Applier.Apply with the newly durable readings, exactly once per
//     reading: a replay stops at 2.
//  7. The transport acknowledges: the wire.Ack goes to the gateway
//     (Topics.Ack, QoS 1, or the HTTP response) and then the MQTT message
//     is acknowledged to the broker.
//
// A crash between any two steps loses nothing and counts nothing twice:
// before 5 the batch is neither marked nor acknowledged, so the broker
// (unacked MQTT message, persistent session) or the gateway (unacked
// records stay in its buffer) delivers it again, and it is written again
// to the same series and timestamps, which InfluxDB merges. After 5 a
// redelivery is a replay (stopped at 2) and is acknowledged. An
// acknowledgement never covers a seq that is not written. A crash
// between 5 and 6 skips the twin update of that one batch; the twin lives
// in the same process and is rebuilt after a restart anyway, so it is
// never counted twice, which is the property the twin's counters need.
// With a twin every instance follows from a shared stream
// (Config.ApplyBeforeCommit, ingest/replica) the skip would be for good:
// the instance that redoes the batch takes it for a replay. There 6 runs
// before 5, the batch may be published again, and the stream's follower
// applies each seq once.
//
// # Instances on several machines (a shared dedup bucket)
//
// With dedup.KVStore nothing holds a gateway's state across machines
// during steps 2 to 5: another instance may commit it first, and Commit
// then fails with dedup.ErrConflict. The batch is then redone from step 2
// on the state loaded again, which may record this very batch (a
// redelivery the other instance took): what is still fresh was written at
// step 4 of the first pass and is neither written nor dead-lettered again;
// what the other instance recorded is its to apply. Steps 6 and 7 follow
// only the pass whose commit succeeded, so each reading is applied once in
// all and no acknowledgement covers a seq the stored state does not. A
// conflict is never answered by retrying Commit, which would overwrite
// the other instance's state; conflicts are counted in
// ponte_ingest_dedup_conflicts_total. Status messages (Release) are redone
// the same way.
//
// # Concurrency
//
// Batches of one gateway are processed in arrival order: each gateway
// maps to one of Workers goroutines by hash, with a bounded queue in front
// of each. Different gateways proceed in parallel (the sink coalesces
// their concurrent writes).
//
// A gateway publishes a window of batches and waits for their acks.
// Taken one at a time, each would wait for its InfluxDB write and its
// dedup commit before the next started: one write of the gateway in
// flight, a round trip per batch. So a worker takes the gateway's batches
// already queued behind the one it comes to, and those arriving while
// their writes are in flight (a train), and processes them as a chain:
// batches of one epoch, each starting right after the one before, none
// written in part before, their range within the state's bounds. A chain
// holds the gateway's dedup state from the filter to its last commit,
// writes each batch as it comes (at most 32 not yet committed, and none
// taken while the chains of all workers hold 160,000 readings not
// committed, unless it has none; the batches behind wait undecoded), and
// each time a write ends commits the written batches at its head in one
// commit and answers them, in order. An acknowledgement never passes a batch
// whose write has not ended; a batch whose write fails fails with those
// after it (nothing of them is committed; the gateway sends them again).
// A chain stops reading the worker's queue once another gateway's batch
// waits in the worker (which then waits for the batches the chain took,
// not for the gateway's later ones), and takes at most 256 batches (a
// status message's Release waits for the state meanwhile). What follows a
// chain in a train is processed as another chain or batch by batch. What
// is written, dead-lettered, applied and acknowledged is what processing
// the batches one at a time gives (TestTrainMatchesOneByOne), but an ack
// may move over several batches at once. ponte_ingest_train_batches
// observes the batches a chain committed, when two or more.
//
// # Validation policy
//
// The device list is taken from the configuration (per gateway), not from
// the edge agents' site files, so ingest does not depend on their format.
// UnknownDevices "dead_letter" (default) dead-letters readings of devices
// the gateway's list does not hold ("unknown_device"); "accept" writes
// them. Devices not listed that are written (accept, or any device of a
// gateway without a list) are new series in InfluxDB, so they are capped:
// per gateway at most MaxNewDevices new ones per hour (default
// DefaultMaxNewDevices); readings of further ones are dead-lettered
// ("series_limit", counted in ponte_ingest_series_limit_readings_total by
// gateway, logged once per hour and gateway). One gateway cannot explode
// InfluxDB's series, and cannot use up another gateway's cap.
package service
