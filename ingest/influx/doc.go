// Package influx is ingest's InfluxDB sink: it turns readings into line
// protocol and writes them through the v2 write API (InfluxDB 2.x, 3.x,
// Cloud, and the /api/v2/write compatibility endpoint of 1.8), in shared
// batches, retrying while InfluxDB is away, and handing back the readings
// InfluxDB refuses so that ingest can dead-letter them.
//
// # Mapping
//
// One reading is one field of a line, and the readings of one device at
// one time (a poll's) share the line, as Telegraf writes them:
//
//	<measurement>,area=<area>,device=<device>,gateway=<gateway>,type=<type> <field>=<value>[,<field>=<value>...] <time>
//
// where (the naming rules live in internal/influxschema, which the twin's
// history queries read too):
//
//   - measurement: the device's type, its profile category ("energy",
//     "air", "traffic", ...), so each category is its own measurement (its
//     own table in InfluxDB 3) and a point name used with different types
//     by two categories does not conflict; Config.Measurement (default
//     "ponte") for devices whose type Meta does not know.
//   - tags, sorted: area and type from Meta (left out when empty), device
//     (the reading's Device) and gateway (the batch's gateway). Units and
//     qualities are not tags: they would multiply series without
//     identifying one.
//   - field: the point name, with the value's own type: float as a float
//     (shortest form that reads back exactly; NaN and ±Inf are rejected,
//     InfluxDB stores neither), int as an integer field ("42i", full 64
//     bits), bool as a boolean, string as a string.
//   - a reading of bad quality has no value field; it writes the string
//     field <point>_quality = "<quality>: <reason>" (e.g.
//     voltage_quality="bad_comm: timeout") at its time, so that gaps are
//     explained in the database itself and never read as a zero.
//   - time: the acquisition time from the gateway's clock, in nanoseconds.
//
// A reading's series, field and time depend only on the reading, the
// gateway and what Meta says about the device, so a replayed reading lands
// on the same series and timestamp and InfluxDB overwrites its field
// instead of adding a point. InfluxDB merges the fields of points with the
// same series and time, so what it stores is the same whether the readings
// of a poll come on one line or on several (a line per reading, as before
// 2026-12): only adjacent readings of a Write call with the same device and
// time share a line, at most 256 to a line, and a point already on the
// line starts a new one, so that no line names a field twice.
// Changing a device's area or type in the site config starts new series
// for it from then on; points written before keep their tags.
//
// A reading whose names line protocol cannot carry faithfully (empty
// names, control characters, a backslash before a character InfluxDB
// unescapes, a point named "time") or whose time is outside InfluxDB's
// range is rejected before sending, with the reason.
//
// # Batching
//
// Write encodes its readings and queues them; a few flush loops (Config.
// Writers) send the queue in HTTP writes of up to BatchSize lines. A
// flush loop sends at once when no other write is in flight, so a lightly
// loaded sink adds no latency; while one other is in flight a free one
// sends once BatchSize's share of it (of Writers, and at least a tenth of
// BatchSize) is queued, while two or more are once BatchSize lines are,
// or when the oldest queued point has waited FlushInterval, so batches
// grow with the load. A request takes the oldest queued lines and then
// the rest of their gateway's before another gateway's: InfluxDB pays per
// series of a request as well as per line. Concurrent Write calls
// thus share writes (group commit) and each returns when all of its
// readings are accepted. MaxPending bounds the readings queued: Write
// waits for room.
//
// Throughput needs enough points in flight: requests of a few hundred
// lines cost InfluxDB more per point than full ones (BatchSize lines).
// Ingest keeps several uplink batches in Write at once (its workers, and a
// gateway's queued batches written together, see ingest/service), and
// MaxPending, counted in readings, leaves room for full requests of lines
// that carry a device's whole poll.
//
// # Failures
//
// Network errors, timeouts, 5xx and 429 (Retry-After honoured), and 4xx
// answers that concern the configuration rather than the points (401,
// 403, 404: wrong token or bucket) are retried on a timer with exponential
// backoff from RetryBase to RetryMax with jitter: the flush loop holding the
// batch waits and tries again by itself, whether or not new writes come
// (the client library's own retry queue moves only when new writes
// arrive, so it is off here; the library is used for its blocking write
// call only). While a write is failing Healthy is false, the other
// flush loops wait, Backpressure is true and Write keeps blocking: nothing is
// lost, memory stays within MaxPending, and the rest waits with the broker
// and the gateways' buffers.
//
// When a write could not reach InfluxDB at all (connection refused or
// reset, timeout), the flush loop does not sleep out its backoff: it pings
// /ping (served by 1.8, 2.x and 3.x) every ProbeInterval (default 500ms)
// and tries the write as soon as InfluxDB answers, so ingest resumes
// within about ProbeInterval of InfluxDB's return rather than up to
// RetryMax later. A server that answers but fails writes (5xx, 429,
// 401/403/404) is not probed: its ping would succeed while writes keep
// failing, so it keeps the full backoff and no hot loop arises. An outage
// is logged once at its start ("InfluxDB unreachable; holding N batches,
// gateways are not acknowledged until it is back") and once at its end,
// with its duration and whether the probe or the timer ended it; retries
// in between log at Debug. ponte_ingest_influx_probe_resumes_total
// counts outages a probe ended.
//
// A 400, 422 (2.x partial write) or 413 answer, or a 500 saying "partial
// write:" (as InfluxDB 2.0 sent for type conflicts), is about points. The
// sink finds the refused lines from the server's message (the whole body,
// which the client library would cut to 1 KiB on 1.x): lines quoted in
// "unable to parse '<line>': <why>" (1.x, 2.x), lines matching the
// measurement, field and type of a "field type conflict" (1.x, 2.x), the
// per-line list of a 3.x partial write. A refused line of one reading is
// rejected with the server's reason; a refused line of several is split
// into a line per reading and sent again, so that only the readings
// InfluxDB refuses on their own are rejected (a field type conflict names
// one field of the line; the others are good); the rest of the batch is
// sent again (InfluxDB may have written part of
// it; writing a point again only overwrites it). When the message names
// no line (InfluxDB 1.8 answers a type conflict inside one batch with a
// bare "field type conflict" and writes nothing), the batch is halved and
// each half sent on its own, down to single lines, so good points are
// never held hostage by a bad one.
//
// # Health
//
// Healthy reports whether the last write or ping succeeded; an idle sink
// pings every PingInterval. Metrics (ponte_ingest_influx_*) count
// requests by result, points written, rejected and abandoned, retries,
// write durations and batch sizes, pending points, health and backoff.
//
// # Structure
//
// A Sink is two parts joined by its flush loops (Config.Writers
// goroutines):
//
//   - the queue (queue.go, ledger.go, encode.go, job.go) is the callers'
//     side: it encodes readings into lines, admits them within MaxPending,
//     coalesces them into batches and, as the client's ledger, ends each
//     Write once all of its lines are written, rejected or dropped;
//   - the client (client.go, retry.go, attribute.go, transport.go) is
//     InfluxDB's side: one HTTP write per batch, the shared backoff and
//     /ping probes while InfluxDB fails, finding the lines a refusal
//     names, and the idle health ping.
//
// The queue knows nothing of HTTP and the client nothing of Write calls:
// a batch is lines to the client, and what becomes of them goes back
// through the ledger. The Sink owns the goroutines and their shutdown.
package influx
