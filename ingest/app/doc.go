// Package app assembles ponte-ingest from its configuration: dedup state,
// dead letters, the InfluxDB sink, the pipeline, the embedded broker (when
// no broker URL is configured), the MQTT and HTTP intakes and the
// operations endpoints, all owned by one errgroup. cmd/ponte-ingest only
// parses flags and calls Run; tests call Run with a fake sink.
//
// HTTP is served on two listeners (listen.go): the public one
// (http.listen: the HTTP intake, the twin's API and pages; HTTPS with
// http.tls, TLS 1.2 or later) and the ops one (http.ops_listen, loopback
// by default: /metrics, /healthz, /readyz), so that metrics and health are
// never on the public port. Both have the configured read-header, read,
// write and idle timeouts and header cap; the public one accepts at most
// http.max_connections at once (more wait in the accept queue). Token
// guessing on the intake and the operator API is throttled per source
// address (package internal/throttle, budget http.auth_burst and
// http.auth_refill).
package app
