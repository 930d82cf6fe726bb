// Package agent is the edge agent: it reads a site config, polls the
// site's devices through the sources (edge/source/...), appends every
// reading to the durable buffer (edge/buffer), forwards the buffer to
// ingest (edge/uplink), and serves a local HTTP API for technicians and
// monitoring. cmd/ponte-edge wires it to flags and signals.
//
// # Site config
//
// One YAML file per gateway (examples in deploy/sites/), decoded strictly
// by yamlconf: unknown fields and wrong types are errors with file, line
// and field path, and a validation pass then reports every semantic
// problem at once, each at its line. Decisions:
//
//   - profiles: the firmware profile directory; relative paths (this one,
//     buffer.dir, uplink.password_file, uplink.tls.*) are taken from the
//     config file's directory. Default DefaultProfilesDir, where packages
//     install the shipped profiles; ponte-edge --profiles overrides it.
//     Only the profiles the devices name are loaded, so one broken profile
//     of another model does not stop a gateway.
//   - Sizes (buffer.max_bytes, buffer.segment_bytes, uplink.batch_max_bytes)
//     are a plain number of bytes or a number with a unit: KiB, MiB, GiB,
//     TiB (powers of 1024) or kB, MB, GB, TB (powers of 1000). Durations
//     are Go duration strings ("500ms", "72h").
//   - A device's address scheme must fit its profile's kind: modbus takes
//     tcp:// or rtu://, serial takes serial://, mqtt takes a broker URL.
//     A serial port carries either one serial device or any number of
//     Modbus RTU units. unit is for Modbus only, id for MQTT only (and
//     required when the profile carries a device identity).
//   - Modbus and request/response serial devices without an interval are
//     polled every DefaultInterval (10s).
//   - location {lon, lat} is required and range-checked: the twin places
//     every device on its map; |lat| > 90 or |lon| > 180 is an error, and
//     (0, 0) is refused as never filled in. Coordinates given the wrong way
//     round (Florence as lon 43.78, lat 11.26) are the commonest slip, and
//     the range check cannot see it: a point outside Italy's bounding box
//     whose swapped point lies inside it is an error, "latitude and
//     longitude look swapped". A point outside the box that is not a swap
//     is accepted (a gateway abroad). The box is Italy's extreme points
//     (Wikipedia, "List of extreme points of Italy"), a constant here: no
//     site config field and no geo data, so the check stays cheap on ARM
//     boxes and edge does not import twin or geo.
//   - The uplink username defaults to the gateway ID, the client ID to
//     "ponte-edge-" + gateway ID.
//   - The uplink password is given as password, password_file or
//     password_env (an environment variable), one of them; a shipped
//     example's placeholder or a password shorter than 16 characters is
//     refused, and a config or password file others may read is warned
//     about at start (secret.go, rules shared with ingest in
//     internal/secret).
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
//	GET /status   JSON (see Status): gateway, version, uptime, buffer
//	              depth and oldest age, uplink state with the last
//	              acknowledged sequence, and each device's state, last good
//	              read and reading counts.
//
// # Concurrency
//
// An Agent is run once; Status, Reload and Addr may be called from any
// goroutine while it runs.
package agent
