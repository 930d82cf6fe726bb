// Package command is ingest's side of operators' commands (issue 16):
// the one place that decides whether a write may be sent to a device,
// sends it on its gateway's command topic, follows the gateway's reports
// and keeps every step in an append-only audit log.
//
// A command targets a site's entity; Config.Lookup resolves it to the
// gateway, the device and the device's profile (the one inventory of
// internal/site, through the twin). Issue checks the request, the
// caller's scope (another tenant's entity is answered as missing), the
// point's write rules (profile.Write.Check; CheckText for a text point,
// a message sign's message: text.go) and the rate limits (per
// device and per operator, golang.org/x/time/rate); a point whose rules
// ask for approval waits for a second operator (another token, so
// another operator ID) and is published only then. Expiry counts from
// the issue: a command approved after its expiry is expired, never sent.
//
// Reports arrive on the gateways' report topics. A report is taken only
// when its topic's gateway, the report's gateway and the command's
// gateway are one: a gateway cannot report another's commands, nor one
// ingest never published (awaiting approval, rejected, expired before
// approval). Each gateway's reports are rate-limited (Config.ReportBurst,
// ReportRefill) before they take the lock. A report is recorded only
// when it changes the command's state: a repeat or a step behind the
// state writes nothing. A command no report has touched (queued) is
// marked expired by ingest at its expiry plus Config.Grace: the gateway
// never started it and starts nothing past its expiry. A command the
// gateway received or sent may have been written (a Modbus write with
// its retries and settle, a cut link delaying the report), so ingest
// waits for the gateway's final report, which the gateway journals and
// republishes, and marks it failed ("no final report from the gateway")
// only at its expiry plus Config.FinalWait. A final report arriving after
// ingest ended a command is still recorded and wins (the gateway knows
// what happened), with a detail saying it came late; of other reports
// after that, one at most is recorded. Commands still queued without any
// report are published again when their gateway comes online and every
// Config.Resend; the gateway deduplicates IDs, so that is harmless.
//
// Memory: ended commands leave memory Config.KeepEnded after they ended
// (at run time and when the log is read back); the audit log keeps
// them, and a report of an evicted command is refused as unknown. An
// index of the open commands (and their number per issuing operator,
// capped by Config.MaxOpenPerOperator beside the global Config.MaxOpen)
// and of the IDs in issue order keeps List and the caps from walking the
// history.
//
// The audit log is JSON Lines in Config.AuditDir: audit.jsonl, rotated by
// size into audit-<first seq>.jsonl files that are removed after
// Config.AuditRetention. Each line carries a sequence number and prev,
// the hex SHA-256 of the previous line, across files: a hash chain. A
// line is fsynced before the API answers. On start the log is read back,
// the chain verified (a broken chain stops the start, naming the file and
// line, unless Config.ContinueBrokenAudit) and every command's state
// rebuilt, so pending approvals and queued commands survive a restart.
// (The chain shows a changed or removed line by the line after it; a
// change to the very last line is not detectable from the log alone.)
// Each entry also goes to InfluxDB through Config.AuditPoints,
// asynchronously with retries: a failed InfluxDB write never blocks an
// answer nor loses the file's entry; it is counted.
//
// Concurrency: a Service is safe for concurrent use. One mutex orders
// every change and its audit line. Publishing happens outside it: the
// command is prepared under it (marked attempted), published, then
// "published" is recorded under it again; a report arriving before the
// broker's PUBACK records "published" first, so a gateway's report is
// never recorded before the publish that caused it, and a slow broker
// holds back neither the API nor reports. The audit view opens the files
// under the mutex and reads them outside it, up to the size captured.
// HandleReport may block on the mutex briefly (never on a publish);
// callers on an MQTT client's delivery goroutine hand reports over on a
// goroutine of their own (package intake does, dropping them when its
// queue is full).
package command
