// Package app assembles ponte-ingest from its configuration: dedup state,
// dead letters, the InfluxDB sink, the pipeline, the embedded broker (when
// no broker URL is configured), the MQTT and HTTP intakes and the
// operations endpoints, all owned by one errgroup. cmd/ponte-ingest only
// parses flags and calls Run; tests call Run with a fake sink.
package app
