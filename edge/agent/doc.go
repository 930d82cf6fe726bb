// Package agent is the edge agent: it reads a site config, polls the
// site's devices through the sources (edge/source/...), appends every
// reading to the durable buffer (edge/buffer), forwards the buffer to
// ingest (edge/uplink), and serves a local HTTP API for technicians and
// monitoring. cmd/ponte-edge wires it to flags and signals.
//
// # Site config
//
// The site config's data (schema, decoding, the checks every reader
// shares) is package internal/site, which ingest and the twin read too.
// Load and Parse add the checks that need the transports, each kind's
// looked up in edge/transport's table: a device's address scheme must fit
// its profile's kind (modbus takes tcp:// or rtu://, serial takes
// serial://, mqtt takes a broker URL), a serial port
// carries either one serial device or any number of Modbus RTU units, each
// source's own checks (line settings, unit IDs on a bus), the buffer's
// limits (edge/buffer), and a tls section only with a TLS broker scheme.
//
// # Running
//
// Agent.Run opens the buffer, starts the sources, the forwarder and the
// HTTP server under one errgroup. The emitter the sources call encodes
// each reading with wire.AppendRecord and appends it to the buffer, which
// never blocks, and returns the buffer's Commit: a source acknowledges its
// device (the MQTT source its PUBACK) only once that Commit reports the
// readings durable (see edge/source). It also keeps each device's state (ok when its latest
// readings included a good one, failing when they were all bad, unknown
// before any) so /status does not depend on source internals.
//
// Shutdown (cancelling Run's context, SIGTERM in ponte-edge) is ordered
// and bounded by Config.ShutdownTimeout: the sources stop first; the last
// appends are waited for until durable; the forwarder gets up to
// Config.DrainTimeout to have ingest acknowledge what is buffered, then
// stops (publishing its offline status); the HTTP server stops; the buffer
// is closed. Nothing that was durable is lost: what was not acknowledged
// is sent at the next start.
//
// # Reload
//
// Agent.Reload (SIGHUP in ponte-edge) re-reads the site config. If the
// gateway, uplink, buffer or http settings changed it refuses,
// logging why: those need a restart. Otherwise it stops the sources and
// starts new ones with the new device list; the buffer and the forwarder
// keep running, so nothing buffered is lost and sequence numbers go on.
// Profiles are read again too, so an edited profile takes effect.
// A config with errors is refused and the running devices stay.
//
// # HTTP API
//
// Loopback only by default (http.listen, DefaultListen):
//
//	GET /healthz  200 "ok" while the process serves.
//	GET /readyz   200 once the buffer is open and the sources started,
//	              503 before, while shutting down, and while the buffer's
//	              disk is failing (readings are then not durable). The
//	              uplink does not count: a box with no link still does its
//	              job, buffering.
//	GET /metrics  Prometheus metrics of this agent's own registry: the
//	              buffer, sources, forwarder, agent, Go runtime and process.
//	GET /readings the live readings as newline-delimited JSON (TailLine),
//	              filtered by ?device= and ?point= (repeated or comma-
//	              separated), for ponte-ctl tail: at most MaxTails watchers,
//	              each with a bounded queue; what a slow watcher cannot take
//	              is dropped from its view (a {"dropped":N} line), never
//	              from the buffer, and costs the sources nothing.
//	GET /status   JSON (see Status): gateway, version, uptime, buffer
//	              depth and oldest age, uplink state with the last
//	              acknowledged sequence, each device's state, last good
//	              read and reading counts, and the last 20 commands
//	              (command.Entry: id, device, point, value, status,
//	              detail, at; newest first).
//
// # Device states
//
// A device is "unknown" until read, "ok" when its latest poll had a good
// reading, "failing" when it had none. Reading well is not enough: ingest
// may refuse what the gateway sends (a reading time outside its window, a
// device its inventory lacks), dead-letter it and acknowledge it, and the
// buffer frees it. The uplink asks ingest to say so in its
// acknowledgements (wire.Ack.Refused); each device's status then carries
// "refused": the readings refused, the last reason and detail, and the
// offending point, value and time. A device whose every reading in the
// last reported batch was refused is "refused" rather than "ok", until a
// later reading of it is acknowledged with no report of it (the recorder
// knows each device's latest sequence number, so that is exact, not a
// timer). A device partly refused stays "ok", with its count.
//
// The uplink's periodic status message (wire.Health, every
// uplink.status_interval, default 60s) counts the devices by these same
// states: "ok" is up; "failing" and "refused" are bad (an MQTT device
// silent past its expected intervals is "failing", since its source emits
// bad readings for it); "unknown" is neither, as it has not yet had a
// chance to answer.
//
// # Memory and CPU at scale
//
// ponte-edge sets the Go runtime's soft memory limit from the site's
// device count (MemoryLimit: 16 MiB up to 680 devices, 19.7 MiB at
// 1,000) unless GOMEMLIMIT is set; GOGC keeps its default. At 100k
// points/s (1,000 devices of 100 registers, BenchmarkAgentFootprint/10x)
// that holds RSS under 30 MB for about 2 % more CPU. The limit is taken at
// start: a reload that adds many devices keeps it until the next start.
// What costs CPU per reading was found with perf on the running agent and
// is kept off the per-reading path: metrics are counted per poll, plans
// are shared by the devices of one profile, the uplink reads the buffer
// into one reused arena, and buffer walks reuse their read buffer.
// Issue 17's profile of the 10x run (go tool pprof on the agent) put the
// collector at about half the agent's CPU; what it collected was mostly
// the buffer's queued appends (a slice header per record, now offsets),
// walks' read buffers (a sync.Pool emptied by collections, now kept),
// goburrow's per-request allocations (Modbus TCP is now framed in
// edge/source/modbus with reused buffers), and the uplink's encoding
// (wire.Encode's reference table and paho's copy of each payload; not
// changed). Under the limit the heap may grow only about 1-2 MB past the
// live heap (10-11 MB at 1,000 devices), so the collector's rate follows
// the live heap more than the garbage: a pool that kept 2 MB of the
// buffer's append memory for reuse cut the garbage by half and doubled
// the collections, and halving the uplink's replay batches (the everyday
// batches at this rate, see uplink.Config) took 1.3 MB off the live heap
// and a third off the collections. Measure the live heap (GODEBUG=gctrace=1:
// the third figure of "a->b->c MB") before keeping memory to save garbage.
//
// # CPU starvation
//
// On a box whose CPUs are oversubscribed (BenchmarkAgentStarved: a run
// queue of 20 to 30 on two cores, ponte-sim --burn) the agent runs in
// short slices after long waits. Two causes of lost or spoiled polls
// there were the agent's own, and are fixed: a bus that came back more than an interval late
// skipped the slots it had missed (it now polls them late, stamped with
// the time it read, up to three intervals behind; see edge/source/modbus),
// and a Modbus TCP reply that arrived in time was counted a timeout when
// the agent ran only after its deadline (Go fires the deadline's timer
// before it looks at the socket; the link now takes what already arrived
// before calling it a timeout). GOMAXPROCS keeps Go's default (the CPUs
// the process may use): raising it adds threads to the same starved run
// queue, and lowering it to 1 puts the collector's work on the polling
// thread. Where the box's other work may starve the agent, give its
// service a larger CPU share (systemd CPUWeight= or Nice=) rather than
// longer device timeouts: a timeout then still means a device that did
// not answer.
//
// # Concurrency
//
// An Agent is run once; Status, Reload and Addr may be called from any
// goroutine while it runs.
package agent
