// Package ingesttest holds test doubles for ingest's pipeline and a fake
// gateway: an in-memory sink that can be taken down, a file sink that
// survives kill -9, counting appliers, and a gateway that publishes
// numbered batches over MQTT and resends what is not acknowledged, as the
// edge forwarder does. It is imported by tests only.
package ingesttest
