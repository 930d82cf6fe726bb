// Package command is the edge side of operators' commands (issue 16): the
// executor that takes a wire.Command from the gateway's command topic,
// checks it again against the gateway's own copy of the device's profile,
// writes it through the device's source (source.Writer), and answers with
// wire.Reports on the report topic.
//
// # At most once
//
// A command ID is written at most once, across redeliveries and restarts.
// The executor journals the ID as started, and fsyncs, before it calls the
// writer; it journals the final report, and fsyncs, before it publishes
// it. A command ID seen before is answered with the report kept for it,
// marked Repeat, and never written again (nothing is answered while it is
// still queued or running: its reports are on their way). A command found
// started without a final report when the executor starts (the agent was
// killed between the write and the report) is reported failed with the
// detail Interrupted and never written again: whether the write reached
// the device is unknown, and an operator decides, with the read-back the
// next poll shows.
//
// # Order of checks
//
// A payload that is not a command is logged and counted (malformed); if
// its ID can be read, it is refused with the reason. Then: a known ID is a
// repeat; a command past its expiry by the gateway's clock is expired; a
// command issued more than Config.ClockSkew after the gateway's now is
// refused (the clock is behind and cannot judge the expiry: a command
// that expired by the real time would look fresh); an
// unknown device, a point that is not writable, or a value that fails the
// profile's Write.Check is refused with the operator-readable reason;
// beyond MaxQueued commands waiting the command fails "gateway busy".
// Otherwise it is queued behind the other commands of its device: a
// device's commands run one at a time in arrival order, different devices
// in parallel. When its turn comes the expiry is checked again, the ID
// journaled, received reported, the write made with a deadline (three of
// the device's timeouts plus the point's settle time; for a device without
// a timeout, a LoRaWAN downlink, the command's expiry), and the read-back
// compared with Write.Applied: applied, or failed "read back X, wrote Y".
//
// # Text commands
//
// A point whose profile gives text rules (a message sign's message) takes
// wire.Command.Text: the text is normalized and checked with the
// profile's CheckText (a character the device cannot show, too long, a
// text for a numeric point: refused with the same words ingest uses), and
// a device whose source is no source.TextWriter is refused. The writer
// returns the text read back: applied with Report.ReadbackText when it
// equals the text written (trailing blanks aside: a poll trims them),
// failed `read back "X", wrote "Y"` otherwise; for a device the profile
// says cannot be read back (no_readback), applied on the device's
// acknowledgement with the detail profile.NoReadbackDetail.
//
// # Reports
//
// Reports are published in order by one goroutine through Config.Report,
// which returns once the broker acknowledged (QoS 1 PUBACK). A final
// report so acknowledged is journaled as published; the others are
// published again by Republish, which the agent calls at every new
// connection. Steps (received, sent) are published once, best effort.
//
// # The journal
//
// Config.Dir/commands.journal is append-only: a header line
// "ponte-commands v1", then one record per line, the CRC-32 of its JSON
// in 8 hex digits, a space, and the JSON (kinds start, final, published).
// Each record carries the time it was appended. A torn or corrupt line is
// skipped and counted; an empty file (a crash right after its creation)
// is a new journal. At start, and every 1000 records, it is compacted:
// entries whose command expired more than Keep (24 h) ago are dropped and
// the file replaced atomically (internal/atomicfile). Age is judged
// against min(now, the newest record's time), and nothing is dropped by
// age while the clock is before the newest record: a gateway booted with
// its clock days ahead, then corrected by NTP, keeps the IDs ingest may
// resend. A final report the broker never acknowledged is never dropped
// by age (a gateway offline over a weekend still owes its applied
// report); past MaxUnpublished of them the oldest are dropped and
// counted. A journal that exists without its header (another file, or
// damaged) is never guessed at: the executor starts (the agent's readings
// go on), logs an Error, sets ponte_edge_command_journal_unreadable, and
// refuses every command with "command journal unreadable: <path>:
// <reason>" (Executor.JournalError, in the agent's /status) until a
// technician repairs or removes it. A compaction that fails (a full disk) leaves the old file in
// use and is tried again 100 records later.
package command
