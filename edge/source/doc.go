// Package source defines what every acquisition source shares: the device
// instance it reads, how it hands readings on, and per-device metrics.
//
// The kinds live in subpackages (modbus, serial, mqtt). A source owns its
// connections and goroutines; Run blocks until ctx is cancelled and returns
// only then (or on a configuration error before anything started). Failing
// devices never make Run return: they are logged once per change of state,
// counted, emitted as bad-quality readings and retried with backoff.
package source
