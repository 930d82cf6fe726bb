// Package source defines what every acquisition source shares: the device
// instance it reads, how it hands readings on, and per-device metrics.
//
// The kinds live in subpackages (modbus, serial, mqtt, rsmp). A source owns its
// connections and goroutines; Run blocks until ctx is cancelled and returns
// only then (or on a configuration error before anything started). Failing
// devices never make Run return: they are logged once per change of state,
// counted, emitted as bad-quality readings and retried with backoff.
//
// # Writing a source: acknowledge only what is durable
//
// A source hands each poll's or message's readings to the Emitter, which
// returns a Commit: the edge buffer's group-commit handle, resolved when
// the readings are fsynced (at most the buffer's SyncInterval later) or
// have failed to be. The contract, for every source present and future:
//
//   - A source acknowledges its device only after the Commit reported the
//     readings durable (Wait, or Done then Err, returned nil). An
//     acknowledgement sent earlier hands the only copy to a buffer that a
//     power cut can still empty: the device frees it, and the reading is
//     lost. This is Benthos' ack-function contract.
//   - On any error it does not acknowledge, so the device or its broker
//     sends the readings again (at least once; ingest and InfluxDB absorb
//     the duplicates, which carry the device's time where it sends one).
//     ErrNotDurable (disk failing), ErrDropped (memory bound: the buffer
//     is full), ErrClosed (the agent is stopping) and ErrTooLarge are the
//     buffer's errors, in edge/buffer; a Wait ended by ctx means the
//     source is stopping and the readings' fate is unknown. A source that
//     stays connected may emit the same readings again after a backoff
//     rather than wait for a redelivery that its protocol gives only on a
//     new connection (the mqtt source does).
//   - Waiting happens off the emitting goroutine's critical path: the
//     emitter is called serially, and a source must not hold its lock or
//     a device's poll while it waits. Polled devices (modbus, serial) have
//     nothing to acknowledge and drop the Commit.
//   - Run never emits after it returned, and acknowledges nothing the
//     emitter had not reported durable before.
package source
