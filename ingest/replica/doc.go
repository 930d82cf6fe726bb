// Package replica makes every ingest instance serve the whole twin when
// several run against a NATS cluster: each newly written batch is
// published once to a replicated JetStream stream (the applied stream,
// PONTE_APPLIED), and every instance follows that stream and applies each
// batch to its own twin, in stream order, so all twins converge on the
// same state whichever instance wrote the batch.
//
// # Publishing
//
// Replica.Apply is the ingest service's Applier: the service calls it
// once per batch, after the readings are in InfluxDB and the dedup mark is
// committed. It publishes the batch's good readings (gateway, epoch,
// readings with their sequence numbers) in the wire encoding, with the
// message ID gateway/epoch/first-last, so that a publish retried after a
// lost acknowledgement (the stream leader's node died) is stored once
// within the stream's duplicate window. A publish that fails is retried
// with backoff until it is stored: Apply blocks, and with it the gateway's
// pipeline and its acknowledgement, so the gateway keeps the readings in
// its buffer meanwhile. Only when ingest stops (Close, or Run's context
// done and CloseGrace passed) is a batch given up; it is logged at Error
// and counted (ponte_ingest_replica_unpublished_total): InfluxDB holds its
// readings, the twins miss them until the points report again.
//
// # Following
//
// Run follows the stream with an ordered consumer (no server-side state,
// recreated by the client from the next sequence after a failure) and
// hands each batch to twin.ApplyAt with its stream sequence, which numbers
// the twin's changes after it (see package twin, "Replicas"): SSE event
// IDs are then the same on every instance, and a client resumes on
// another instance with its Last-Event-ID. The twin ignores a sequence it
// has applied, so a batch never counts twice.
//
// # Rebuilding
//
// Every SnapshotInterval, Run writes the twin's Checkpoint (every site's
// latest readings and the stream sequence they cover) to a replicated
// object store bucket (PONTE_TWIN, object "twin"), unless the stored one
// covers as much. A starting instance calls Restore: it loads that
// snapshot into its twin, and Run follows the stream from the sequence
// after it; without a snapshot it starts at the beginning of the
// indicator window (Config.Window). InfluxDB is not read. A snapshot older
// than the stream's MaxAge leaves a gap, logged and counted
// (ponte_ingest_replica_gaps_total).
//
// # Alarms
//
// OpenAlarms shares the twin's alarms among the instances (it implements
// twin/alarms.Shared): one key per alarm in a replicated key-value bucket
// (ponte-alarms), written only by the instance holding the lease (the key
// "leader" of ponte-alarms-lease, a bucket whose TTL removes the key
// LeaseTTL after its last renewal; renewed every LeaseTTL/3, given up when
// it could not be renewed for half the TTL). The leader writes each alarm
// with compare-and-swap on the revision it last saw, so that a former
// leader that missed losing the lease has its write refused (and steps
// down) instead of overwriting the new leader's. Every instance watches
// the bucket into its engine; a follower's acknowledgement is a request on
// ponte.alarms.ack, which only the leader subscribes to, answered with the
// alarm as stored and its revision once it is written.
//
// The snapshot's encoding (snapshot.go) is versioned: magic "PNTC",
// version, the covered sequence, the time taken, then the checkpoint's
// batches each in the wire encoding, and a CRC-32C.
package replica
