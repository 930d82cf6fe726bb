// Package fault is Ponte's own soak under faults (`make fault`, run by CI
// after `make test`): the real binaries built from ./cmd/... — three
// ponte-edge agents, each polling its own ponte-sim (four simulated
// SDM630 meters over Modbus TCP, about 300 readings/s per gateway), one
// ponte-ingest with its twin, a real InfluxDB 1.8.10 and, in the second
// run, a real Mosquitto — put through five minutes of faults, once with
// ingest's embedded broker and once with Mosquitto.
//
// The tests carry the build tag "fault": a plain `go test ./...` (short or
// not) does not run them; `make fault` does, and `make lint` vets them.
//
// # Faults
//
// Between each edge and the broker runs a TCP proxy the test controls:
// a cut closes every connection and refuses new ones for a while, a stall
// stops forwarding bytes in both directions while keeping connections
// open. Cuts and stalls of random gateways repeat for the whole fault
// phase, and over them a fixed schedule kills each edge agent with
// SIGKILL, kills ingest, restarts the broker (Mosquitto killed and started
// again; for the embedded broker that is ingest killed and started again),
// takes InfluxDB away for a minute, kills InfluxDB, and restarts the
// broker just before a second InfluxDB outage, so that a sequence gap
// left by the broker restart is still open while ingest cannot write.
// Intervals are compressed in the generated configs (the edge re-sends
// unacknowledged batches after 3 s and backs off at most 1 s; ingest
// retries InfluxDB at most every second); ingest's gap timeout is left at
// its default, as an operator would run it.
//
// # Ground truth
//
// The edge's buffer is the truth of what was durably accepted: a
// reading is accepted when it has a sequence number on the buffer's disk.
// Segments are append-only and deleted once acknowledged, so the test
// hard-links every segment file of each edge into a directory of its own
// as soon as it appears (checking every 20 ms, replacing a link whose file
// was replaced): at the end that directory holds every record the
// gateway ever had on disk, and edge/buffer itself reads it back, giving
// sequence number -> reading (device, point, time, value). The
// simulators are where the values come from; the buffer records are
// compared with what InfluxDB holds, value for value.
//
// At the end the faults stop, the links heal, and the test waits until
// each edge has had acknowledged what it held when the faults stopped;
// then it stops the edges (SIGTERM: they drain) and reads the
// acknowledged sequence number each one persisted. For every gateway,
// every record up to that number must be in InfluxDB: InfluxDB
// overwrites a point written twice (same series and timestamp), so
// "exactly once" there is every accepted reading present, with its value,
// and no point that no accepted reading explains. Records above it were
// never acknowledged and are still in the gateway's buffer (reported,
// not a loss).
//
// The twin is in ingest's memory and starts empty at every ingest start,
// so its own counters cannot show a reading counted twice across a kill.
// Ingest logs every batch it hands to the twin at Debug level (message
// app.AppliedMsg, with the sequence numbers); the test runs ingest at
// Debug level and appends every incarnation's log to one file, which
// survives kill -9. Each accepted seq must appear there exactly once. A
// kill of ingest between persisting a batch's dedup state and handing it
// to the twin skips that batch's twin update (the twin died with the
// process anyway); such skips are reported, and fail the run only beyond
// one batch per gateway per ingest kill.
//
// Ingest never gives a gap up on a timer; it moves its acknowledgement
// past seqs it never received only when the gateway declares it dropped
// them, and logs service.DroppedMsg (counted in
// ponte_ingest_gateway_dropped_readings_total). The test's edges never
// reach their buffer caps, so none of those lines may appear.
//
// The test prints a timeline of what it injected, when, and what the
// edges reported at that moment, then per gateway what it found; any
// loss, extra point, double twin count or given-up gap fails it, naming
// the gateway, the seqs and the faults injected around them.
package fault
