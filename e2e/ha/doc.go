// Package ha is Ponte's system test of high availability on a NATS
// cluster (issue 14; `make ha`, run by CI after `make fault`): the real
// ponte-ingest binary built from ./cmd/ponte-ingest, run twice as two
// instances with broker.nats, dedup.nats and twin.replica on a three-node
// NATS cluster (internal/natstest, nats-server processes with the shipped
// deploy/nats/accounts.conf permissions for ingest), one real InfluxDB
// 1.8.10, and twenty lightweight gateways (ingesttest.Gateway, the real
// wire format over MQTT QoS 1), each connected to a different node first
// and given every node to fall back on.
//
// The tests carry the build tag "ha": a plain `go test ./...` does not run
// them; `make ha` does.
//
// # Faults
//
// The gateways publish at a paced rate for about two minutes. Under that
// load the test kills one NATS node with SIGKILL (the gateways on it
// reconnect to another node), then one ingest instance (A), then starts
// the node again, then A (which rebuilds its twin from the snapshot in the
// replicated object store and the applied stream). The gateways then
// finish: every reading acknowledged.
//
// # What is checked
//
//   - InfluxDB: every reading of every gateway exactly once, with its
//     value, and no point no reading explains (a point written twice lands
//     on the same series and timestamp, so "exactly once" there is
//     "present, right value, nothing else").
//   - The applied stream (PONTE_APPLIED), read back by the test: every
//     reading of every gateway in exactly one message. Every twin is fed
//     from this stream only, so this is the input of every twin.
//   - Each twin applied each message once: B, never killed, reports
//     (ponte_ingest_replica_applied_total) as many batches applied as the
//     stream holds and (ponte_twin_readings_total, every outcome) as many
//     readings as were sent. A's counters restart with it: its second
//     incarnation restores the snapshot covering stream sequence S (its
//     log says which) and must report exactly the messages after S as
//     applied, none skipped twice. The "twin applied" debug lines
//     (app.AppliedMsg) now mean "published to the applied stream"; they
//     are counted and logged, not judged (a kill may cut one short).
//   - Both twins equal at the end, and equal to the readings: every site's
//     attributes (value and observation time) from GET /api/v1/entities,
//     and GET /api/v1/indicators (values and sensor counts; updatedAt is
//     left out, as a restored twin dates its sums at the restore). The
//     gateways' own entities (fleet attributes: last seen, online) are
//     instance-local by design (issue 14, "Not yet") and left out.
//   - SSE: a client reads /api/v1/stream from A, A is killed, the client
//     reconnects to B with its Last-Event-ID and must receive, for every
//     stream sequence after the first it saw, a change of every site that
//     batch changed (the test replays the stream with the twin's rule: a
//     reading older than the point's value changes nothing), and no
//     resync.
//
// The run logs the readings per second through the cluster and how long
// the gateways' acknowledgements took to move again after each kill
// (figures, not assertions).
package ha
