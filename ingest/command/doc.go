// Package command is ingest's side of operators' commands (issue 16):
// the one place that decides whether a write may be sent to a device,
// sends it on its gateway's command topic, follows the gateway's reports
// and keeps every step in an append-only audit log.
//
// A command targets a site's entity; Config.Lookup resolves it to the
// gateway, the device and the device's profile (the one inventory of
// internal/site, through the twin). Issue checks the request, the
// caller's scope (another tenant's entity is answered as missing), the
// point's write rules (profile.Write.Check) and the rate limits (per
// device and per operator, golang.org/x/time/rate); a point whose rules
// ask for approval waits for a second operator (another token, so
// another operator ID) and is published only then. Expiry counts from
// the issue: a command approved after its expiry is expired, never sent.
//
// Reports arrive on the gateways' report topics. A report is taken only
// when its topic's gateway, the report's gateway and the command's
// gateway are one: a gateway cannot report another's commands. A
// command without a final report at its expiry plus Config.Grace is
// marked expired by ingest; a final report arriving after that is still
// recorded and wins (the gateway knows what happened), with a step
// saying it came late. Commands still queued without any report are
// published again when their gateway comes online and every
// Config.Resend; the gateway deduplicates IDs, so that is harmless.
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
// every change and its audit line; publishing happens under it (bounded
// by the publisher's timeout), so a gateway's report is never recorded
// before the publish that caused it. HandleReport and GatewayOnline may
// block on that mutex; callers on an MQTT client's delivery goroutine
// hand them over on a goroutine of their own (package intake does).
package command
