// Package uplink is the edge agent's link to ingest: it reads the durable buffer
// (edge/buffer) in order, sends the readings to ingest as wire.Batch
// messages over MQTT, and frees buffer records only when ingest
// acknowledges them. It uses github.com/eclipse/paho.mqtt.golang.
//
// # Batches
//
// Records are read from a cursor with Read(cursor, BatchMaxReadings,
// BatchMaxBytes) — ReplayBatchReadings and ReplayBatchBytes while more
// than two batches' worth waits and the replay is not paced: ingest takes
// a gateway's batches one at a time, so a backlog drains at batch size per
// round trip — decoded with wire.DecodeRecord, framed into one
// wire.Batch{Gateway, Epoch: buffer epoch, Seqs, Readings} and published
// with QoS 1 to Topics.Up(gateway). A batch goes out when it is full (by
// count or bytes) or when its oldest reading has waited BatchMaxWait
// (by the buffer's append time or since the forwarder first saw it,
// whichever is longer, so a clock step cannot hold a batch back). When
// nothing is new the forwarder waits on the buffer's Changed signal; it
// never polls.
//
// A record that does not decode (a bug, or bit rot the buffer's CRC did
// not catch) is logged, counted in ponte_edge_uplink_bad_records_total
// and skipped. It is still covered by the batch that skipped it: when
// ingest acknowledges that batch's last reading, the buffer frees
// everything the batch was read from, bad records and the buffer's own
// gaps included; a read that yields no good reading at all is freed as
// soon as everything before it is.
//
// # Acknowledgements and the window
//
// Ingest publishes a wire.Ack{Gateway, Epoch, Seq} on Topics.Ack(gateway)
// once every reading up to Seq is durably written. Acks are cumulative: a
// lost one is repaired by the next, a duplicate or older one changes
// nothing. The broker's PUBACK frees nothing; it only measures
// ponte_edge_uplink_publish_seconds. An ack is ignored and counted in
// ponte_edge_uplink_bad_acks_total{reason} when it does not decode
// ("decode"), names another gateway ("gateway"), another buffer epoch
// ("epoch", e.g. addressed to a gateway's previous incarnation); those
// are also logged at Warn, at most once per 10 s, since no ingest of this
// gateway sent them. An ack
// above the highest sequence number this process has sent is counted
// ("beyond") and applied up to what was sent: ingest acks its high-water
// mark, which after a crash can be ahead of the buffer's saved ack by more
// than a window, and refusing it would resend that window for ever.
//
// Readings ingest refuses one by one (a time outside its window, a device
// it does not list) are dead-lettered there and acknowledged all the same,
// so the buffer frees them. With Config.OnAck set, batches carry
// wire.FlagAckRefused and ingest's ack of such a batch lists, per device,
// what it refused (wire.Ack.Refused); the forwarder counts them in
// ponte_edge_uplink_refused_readings_total, warns (at most once per 10 s)
// and hands every applied ack to OnAck, which the agent turns into the
// devices' state in /status. See package wire for why it is asked for.
//
// Sequence numbers may skip (records dropped by the buffer's caps or
// skipped as undecodable). The gateway says so itself, since ingest never
// gives up a gap on a timer: each batch carries Retained, the lowest
// sequence number the buffer still holds (Stats.FirstSeq; everything below
// it was acknowledged or dropped and will never be sent), and From, the
// first number it covers when records before its first reading were
// skipped; the retained "online" status and the will carry Epoch and
// Retained too. Ingest moves its acknowledgement past a number it never
// received only on that word. It acknowledges a batch it already has (a
// resend) as if it had just written it, or the gateway would resend it for
// ever.
//
// When the oldest batch times out, the warning says which of two things
// the forwarder saw: acks arriving that stop short of it (ingest waits for
// readings it is missing; the resend brings them), or no ack at all
// (ingest, or the InfluxDB behind it, is unavailable).
//
// At most Window batches await acknowledgement. When the oldest has
// waited AckTimeout, and on every new connection, the forwarder rewinds:
// it forgets the window and reads again from the oldest unacknowledged
// record. Ingest deduplicates by (gateway, epoch, seq), so a resend is
// harmless; the buffer, not the broker's session, is the source of truth.
// That is why the connection uses a clean session: a persistent one would
// only add broker-side queues and redeliveries of what is resent anyway.
//
// # Status and last will
//
// On every connection the forwarder subscribes to its ack topic (in
// paho's OnConnect handler, so a broker that restarted and forgot the
// subscription is subscribed again), then publishes a retained
// wire.Status "online" on Topics.Status(gateway), with the gateway's
// wire.Health, and republishes it every StatusInterval (default 60s) while
// connected, so the fleet view sees the buffer depth and device counts at
// most that old. Health.Buffered is the buffer's Stats.Records (held and
// not yet acknowledged by ingest), Health.Oldest the append time of the
// oldest of them (the buffer keeps it per record, so it costs no scan;
// for a polled reading it is within milliseconds of the acquisition
// time), and the device counts come from Config.Devices (the agent's
// /status states). The republishing runs on its own goroutine per
// connection and waits at most ConnectTimeout for each PUBACK: a slow or
// failing status publish is logged and counted
// (ponte_edge_uplink_status_publishes_total{result}), never fatal, and
// never holds back a batch. Its MQTT will is the
// same message "offline", retained, QoS 1: when the link dies or the
// gateway crashes, the broker publishes it (at once when the socket
// closes, about 1.5 x KeepAlive after the link silently stops). The will's
// Time is the connection time, since it is composed then; subscribers
// should stamp receipt time. On a clean stop Run publishes "offline"
// itself and disconnects, which discards the will.
//
// A subscription the broker refuses (SUBACK 0x80) fails the connection.
// Mosquitto, though, grants MQTT 3.1.1 subscriptions and acknowledges
// publishes that its ACL denies and then drops them, so a gateway
// configured with an ID its credentials do not allow looks connected:
// nothing is acknowledged, every record is kept, and each AckTimeout logs
// a warning that names the topic.
//
// # Commands and reports
//
// With Config.OnCommand set, the same OnConnect handler subscribes to the
// gateway's command topic (Topics.Cmd) with QoS 1 and hands every payload
// to OnCommand (edge/command's Executor.Handle). PublishReport publishes
// a wire.Report with QoS 1 on Topics.Report and returns once the broker
// acknowledged it; Config.OnConnect runs after each connection, so the
// executor publishes again what was not acknowledged. The clean session
// stays: ingest resends unfinished commands when the gateway is online
// again, and the executor answers an ID it has seen with its kept report.
//
// # Reconnection and replay
//
// Run reconnects for ever, with a "full jitter" backoff (internal/backoff,
// Full): attempt n waits a random time in [0, min(BackoffMax,
// BackoffBase*2^n)), the first attempt included, so hundreds of gateways
// that lost the same broker (or came back from the same power cut) spread
// their reconnections instead of arriving together. Paho's auto-reconnect
// is off; a connection that stayed up for BackoffMax resets n. Each
// connection is a fresh paho client, so nothing of a dead connection
// carries over.
//
// While the buffer holds more than one full batch beyond what is being
// sent (a backlog after an outage), publishing is paced by a token bucket
// of ReplayRate readings/s with a burst of one batch: over any time t
// from the start of a connection at most BatchMaxReadings + ReplayRate*t
// readings go out. Live traffic without backlog is not paced. ReplayRate
// must exceed the live rate, or a backlog never shrinks.
//
// # Concurrency
//
// Run owns the connection and all forwarding state on one goroutine and
// may be called once; Status is safe from any goroutine. Each connection
// also has a status goroutine (see above), which reads only the buffer's
// Stats and Config.Devices and is stopped before the connection ends, so
// nothing it publishes can follow the "offline" status. Paho delivers
// acks on its own goroutines; the handler only validates them, raises an
// atomic high-water mark and wakes Run, so it never blocks paho.
//
// # Metrics
//
// ponte_edge_uplink_connected, _batches_sent_total, _readings_sent_total,
// _resends_total, _acks_total, _acked_seq, _in_flight_batches,
// _bad_acks_total{reason}, _bad_records_total, _refused_readings_total,
// _connects_total{result}, _status_publishes_total{result}
// and _publish_seconds, on the Registerer passed in Config.
package uplink
