// Package buffer is the edge agent's durable store-and-forward buffer: every
// reading the agent accepts is appended here, kept across crashes, power
// cuts and link outages, read back in order by the uplink forwarder, and
// freed only when ingest acknowledges it.
//
// # Records, sequence numbers, epochs
//
// A record is an opaque byte slice (one encoded reading). Append gives each
// record the next sequence number, strictly increasing from 1 within the
// buffer's epoch. Ingest deduplicates on (gateway, epoch, seq), so a
// sequence number is never given to two different records within an
// epoch, even across crashes:
//   - recovery derives the next sequence number from the disk (the last
//     segment's records) and never goes below what the metadata last knew
//     durable or acknowledged;
//   - Read returns only durable records, so a number ingest has seen
//     cannot vanish in a crash and be handed out again.
//
// The epoch is a random 64-bit number created with a fresh directory and
// stored in the metadata and in every segment header. If the metadata is
// lost, the epoch is taken from the segments; only when neither survives
// (continuity is lost) does the buffer start a new epoch.
//
// # Files
//
// Dir holds segment files named by their first sequence number
// (00000000000000000001.seg) and meta.json. A segment is a 36-byte header
// (magic "PNTB", format version, epoch, first seq, base time, CRC32C; see
// Format versions) followed by frames:
//
//	crc32c (4 bytes LE) | uvarint len | varint (append ms - base ms) | data
//
// The CRC (Castagnoli) covers everything after itself. Sequence numbers are
// implicit: the n-th frame of a segment is first+n. A segment holds the
// records from its first up to the next segment's first (fewer if the
// writer skipped numbers dropped from memory). For 64-byte readings the
// overhead is 8 bytes.
//
// # Format versions
//
// Records outlive the build that wrote them: a gateway upgraded after an
// outage holds a full buffer written by the old build. The format is
// versioned per segment, not per record, by the header's version byte
// (offset 4, right after the magic, in every version): one version for a
// whole file, whose frames a single writer appended, costs nothing per
// record. The header is:
//
//	"PNTB" | version u8 | 3 zero bytes | epoch u64 | first seq u64 |
//	base ms i64 | crc32c of the 32 bytes before (all little-endian)
//
// Version 1 is the format of every buffer written so far and the only
// version yet; this build writes and reads it. testdata/segment-v1.hex is a
// golden segment written by the code as it was before versions were
// checked; the tests read it back reading by reading, and check this build
// still writes it byte for byte.
//
// A later version keeps the magic and the version byte where they are,
// reads every earlier version (old segments are read, never rewritten or
// set aside for their version), never appends to a segment of another
// version (after an upgrade the writer starts a new segment instead of
// continuing the last one), and adds its own golden file beside the older
// ones, which stay.
//
// A segment whose header carries the magic and a version this build does
// not read was written by a newer build, typically before a downgrade. Its
// records are intact but cannot be decoded here, so Open refuses the whole
// buffer, before changing anything on disk, with a *VersionError (wrapping
// ErrUnknownVersion) that names the file, the offset and version found and
// the versions this build reads: run the newer build until the buffer is
// drained, or move the file away knowingly. It is never set aside as
// damage, which would count its records as dropped and let ingest close the
// gap for good. The exception is bit rot in the version byte itself: a
// header that verifies once its version byte is taken as 1 is damage, and
// is set aside like any bad header, so one flipped bit does not stop a
// gateway. meta.json carries its own version; one this build does not know
// is treated as unreadable metadata (recovered from the segments, see
// below).
//
// meta.json holds the epoch, the acknowledged sequence number, the head
// (sequence number, segment and offset of the oldest live record) and a
// checkpoint (segment, offset, next sequence number known durable). It is
// rewritten whole (temporary file, fsync, rename, fsync of the directory),
// at most every CheckpointInterval and at Close.
//
// # Durability: group commit
//
// Append only copies records into memory and returns a Commit. One
// goroutine writes the queue out (early when it passes 1 MiB) and, every
// SyncInterval (default 100 ms), fsyncs the active segment (and the
// directory after a segment was created) and resolves the Commits of every
// append it covered: Commit.Wait returns nil when the records are durable.
// A segment is fsynced and closed before the next one is created, so only
// the last segment can hold unsynced data.
//
// # Recovery
//
// Open reads the metadata, the header of each segment, the one record at
// the saved head, and the last segment from the checkpoint on; start-up
// reads kilobytes, not the whole buffer (see BenchmarkOpen). In that tail
// the first frame that is cut short ("torn"), fails its CRC ("crc") or
// begins a run of zero bytes to the end ("zero_filled", typical of a
// power cut on ext4) ends the segment: it and what follows are truncated
// and counted in ponte_edge_buffer_dropped_bytes_total{reason}, and as one
// record in ponte_edge_buffer_dropped_total{reason} (none for zero_filled),
// since what follows damage cannot be told from garbage. Those records
// were never reported durable.
//
// Earlier bytes were synced before being reported durable, so they are
// trusted at start-up and verified when read: a frame that fails there
// (bit rot) makes the rest of its segment unreadable, and exactly those
// records are counted with their reason; if it is the active segment, the
// writer starts a new one. A segment whose header fails, or of another
// epoch, is renamed *.corrupt and its records counted ("header", "epoch"),
// except a last segment with a torn or zeroed header, created just before
// a crash, which is deleted.
//
// A power cut right after a roll leaves the previous segment complete (it
// was fsynced before the new file was created) and the new one possibly
// empty, headerless or missing; each case recovers to the last durable
// record.
//
// # Reading and acknowledging
//
// Read(from, max, maxBytes) returns durable records in sequence order from
// the oldest not acknowledged or dropped. The forwarder keeps its own
// cursor (last seq sent + 1); after an outage or a restart it reads from 0
// and gets the oldest unacknowledged record. Ack(upTo) frees up to upTo:
// a duplicate or older ack is harmless; an ack above the last appended
// sequence number is refused (ErrAckBeyond) and frees nothing, since it
// means ingest is confused about this gateway. Segments wholly below the
// head are deleted. The ack is persisted with the next metadata write, so
// after a crash up to CheckpointInterval of acknowledged records is read
// again; ingest drops them as duplicates.
//
// # Caps
//
// Appends never block because of a cap. MaxBytes deletes whole oldest
// segments while the files exceed it, acknowledged or not, counting the
// unacknowledged ones ("cap_bytes") and logging each such deletion.
// MaxAge drops unacknowledged records appended longer ago than it
// ("cap_age"). Both are applied every SyncInterval, so the disk may exceed
// MaxBytes by what one interval appends. They apply to records on disk;
// records in memory are bounded by MemoryRecords.
//
// # Disk failure: degraded mode
//
// When a write or fsync fails (ENOSPC, EIO, a read-only remount), the
// records not known durable stay in memory, Commits of affected appends
// report ErrNotDurable, ponte_edge_buffer_degraded goes to 1 and the
// failure is logged once. Appends go on: the memory queue keeps at most
// MemoryRecords, dropping the oldest ("memory_full"; the same bound holds
// when a working disk is too slow, and the Commits of dropped records
// report ErrDropped). Every RetryInterval
// the buffer tries the disk again, writing the whole queue, in order, to a
// new segment named by its first record (files of the failed attempt are
// removed first; fsync errors are never retried on the same file, whose
// page cache state is unknown). On success the alarm clears.
//
// Records in memory are not readable: forwarding them would let ingest
// see sequence numbers that a restart could hand out again. So a gateway
// whose disk is dead keeps polling and raises the alarm, but forwards
// nothing new until the disk works again. Records still in memory at
// Close are lost and counted ("shutdown").
//
// # Concurrency
//
// Append, Read, Ack, Stats and Changed may be called from any goroutine.
// Appends copy into memory under a short lock; reads open segment files and
// read durable bytes, which are never rewritten, without the lock. One
// goroutine per Buffer writes, syncs and enforces caps; Close(ctx) stops
// it after a last flush.
//
// # Metrics
//
// ponte_edge_buffer_bytes, _records, _memory_records,
// _oldest_age_seconds, _appended_total, _dropped_total{reason},
// _dropped_bytes_total{reason}, _recovered_total, _acked_seq, _durable_seq,
// _degraded, _fsync_seconds and _disk_errors_total{op}, on the Registerer
// passed in Config.
package buffer
