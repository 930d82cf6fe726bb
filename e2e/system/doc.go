// Package system is Ponte's whole-system end-to-end test: simulated
// Modbus devices (edge/sim) polled by the real edge agent of a Firenze
// gateway, a Bari gateway whose batches the test publishes itself, ingest
// (app.Run) with its embedded broker, a memory sink instead of InfluxDB,
// the twin of the real Firenze and Bari shapes, and headless Chromium on
// the pages ingest serves. Everything but Chromium runs in the test's
// process.
//
// It is an integration test: `go test -short` skips it; without -short it
// needs Chromium and the built pages (make web), and fails without them.
// The fault soak of the real binaries is e2e/fault.
package system
