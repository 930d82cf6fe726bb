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
// No gap is given up on a timer: a timer's clock runs while ingest itself
// is blocked (InfluxDB down) and any broker that loses a message sets it
// off, and each time it freed readings the gateway still held. A gap
// closes only when its readings arrive, or when the gateway declares it no
// longer holds them: every batch (and status message) carries Retained,
// the lowest seq the gateway's buffer still holds (its byte or age cap
// dropped the rest, or ingest acknowledged it), and Mark moves up to
// Retained-1 and no further; the seqs moved over that were never written
// are counted as dropped by the gateway. GapSince records when a gap
// opened, for people (metrics and the status page), not for a decision.
//
// At most MaxRanges ranges are kept per epoch. A batch that would need
// more is not written now (Fits reports it): the gateway keeps it and
// sends it again after the gap before it filled.
//
// A batch is taken as covering every seq from its Start (the first
// reading's, or the earlier From of records the gateway skipped) to its
// last: numbers a batch skips do not exist in the gateway's buffer.
//
// # Epochs
//
// A gateway's buffer starts a new random epoch only when its continuity is
// lost. Late batches of an old epoch can still arrive, so the MaxEpochs
// (default 4) most recently used epochs per gateway are kept; a batch of a
// forgotten epoch is written again (InfluxDB merges identical points) and
// re-applied.
//
// # Files and locking (FileStore)
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
//
// # A bucket shared by several machines
//
// KVStore keeps the same per-gateway encoding (no second format) as the
// value of one key per gateway (Key) in a JetStream key-value bucket
// (default DefaultBucket, created with 3 replicas and a history of 1), so
// that ingest instances on different machines share the state without a
// shared file system; FileStore stays for one machine. Both implement
// Store, which the pipeline uses.
//
// Nothing locks a gateway across machines. Lock reads the value and its
// revision (a missing key is an empty state); Commit is a compare-and-swap
// on that revision (0 for a new key). When another instance
// committed in between, Commit stores nothing and returns ErrConflict, and
// the caller loads the state again and redoes its decision on it: the
// batch the other instance just recorded is then a replay, and only the
// instance whose commit succeeded applies it. A retry of Commit itself
// would overwrite the other instance's state and is never done on a
// conflict. A write whose answer was lost (a node failing over) is
// recognised by reading the key back: the same value at a later revision
// means it was applied, and so does a later revision whose header
// (Ponte-Dedup-Commits) lists the write's commit ID, when another
// instance committed over it before the retry. Each state's message lists
// the IDs of the last 64 commits it descends from. An instance of a Ponte
// before this list drops it when it commits: while a rolling upgrade
// mixes the two, a commit that another instance committed over may still
// be taken for a conflict, as before.
//
// Lock and the read-back read from the bucket stream's leader, not
// through KeyValue.Get, which a replica a moment behind may answer: such a
// read would hide this instance's own last commit, and the next commit
// would conflict. (The state only grows, so a stale read could only make a
// batch look new, never written: it costs a redo, not correctness.)
//
// OpenKV does not give up when the cluster cannot answer yet (no node
// reachable, a leader being elected, too few nodes up for the bucket's
// replicas): an ingest started with the cluster, or during a node's
// restart, waits for it, logging each bounded attempt that failed and
// why, until its context ends.
package dedup
