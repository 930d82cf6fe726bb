// Package dedup keeps ingest's exactly-once state: for each gateway and
// buffer epoch, which sequence numbers are durably written (InfluxDB
// accepted them, or they were dead-lettered), and the mark up to which the
// gateway may be acknowledged.
//
// # Marks and ranges
//
// Per (gateway, epoch) the state is a Mark, every seq up to which is
// written, plus the Ahead ranges written beyond a gap. The gateway is
// acknowledged up to Mark only: an acknowledgement never covers a seq that
// is not written, even when batches arrive out of order (a broker that
// lost a message in a crash, two ingest instances sharing a gateway's
// batches). A batch filling the gap moves Mark over the ranges it joins.
//
// A gap can also be for good: the gateway's buffer dropped records at its
// cap, or a batch was dead-lettered as a whole. The gateway then keeps
// resending from Mark+1 and gets the same gap. A gap open for longer than
// GapTimeout (default 1 minute, longer than a gateway's resend interval)
// is accepted when the next batch arrives: Mark jumps over it and the
// missing seqs are given up (logged). Only time while the gateway is heard
// counts: after a silence of GapTimeout or more (an outage) the gap's
// clock restarts, because the missing batch may reach another instance a
// moment after the ones beyond it reached this one. At most MaxRanges
// ranges are kept per epoch; beyond that the oldest gap is accepted at once.
//
// A batch is taken as covering every seq from its first to its last:
// numbers a batch skips do not exist in the gateway's buffer.
//
// # Epochs
//
// A gateway's buffer starts a new random epoch only when its continuity is
// lost. Late batches of an old epoch can still arrive, so the MaxEpochs
// (default 4) most recently used epochs per gateway are kept; a batch of a
// forgotten epoch is written again (InfluxDB merges identical points) and
// re-applied.
//
// # Files and locking
//
// Each gateway has one file in Dir, <gateway>.state, of two 4 KiB slots.
// A write goes to the slot not holding the current state, with a counter
// and a CRC, and is fsynced: a torn write leaves the other slot valid, so
// one fsync per batch makes the state durable without a rename.
//
// Lock takes the gateway's file lock (flock) for the whole processing of a
// batch and re-reads the state under it. Several ingest instances can thus
// share one Dir (a local disk of one host, or a filesystem with working
// flock): a gateway's batches are then processed one at a time across
// instances, in whatever order the broker delivered them, and each reading
// is written and applied once in all.
package dedup
