package config

import (
	"time"

	"github.com/ponte-city/ponte/internal/yamlconf"
)

// Replica makes this instance's twin a replica of the applied stream on a
// NATS cluster (twin.replica; package ingest/replica): every instance
// publishes the batches it writes and follows everyone's, so each serves
// the whole twin. Without the section the twin is fed directly.
//
//	twin:
//	  replica:
//	    urls: [nats://10.0.0.1:4222, nats://10.0.0.2:4222, nats://10.0.0.3:4222]
//	    stream: PONTE_APPLIED     # default
//	    bucket: PONTE_TWIN        # snapshots (default)
//	    replicas: 3               # default
//	    max_age: 24h              # default; at least 2m
//	    max_bytes: 1073741824     # default 1 GiB
//	    snapshot_interval: 1m     # default
type Replica struct {
	URLs             []string          `yaml:"urls"`
	Stream           string            `yaml:"stream"`
	Bucket           string            `yaml:"bucket"`
	Replicas         int               `yaml:"replicas"`
	MaxAge           yamlconf.Duration `yaml:"max_age"`
	MaxBytes         int64             `yaml:"max_bytes"`
	SnapshotInterval yamlconf.Duration `yaml:"snapshot_interval"`
}

func (c *Config) validateReplica(bad func(path, format string, args ...any)) {
	if c.Twin == nil || c.Twin.Replica == nil {
		return
	}
	r := c.Twin.Replica
	if len(r.URLs) == 0 {
		bad("twin.replica.urls", "required (expected the NATS servers, e.g. [nats://10.0.0.1:4222])")
	}
	for i, u := range r.URLs {
		if u == "" {
			bad("twin.replica.urls", "entry %d is empty (expected nats://host:port)", i)
		}
	}
	if r.Replicas < 0 || r.Replicas > 5 {
		bad("twin.replica.replicas", "%d (expected 1 to 5; 0 for the default 3)", r.Replicas)
	}
	if d := r.MaxAge.D(); d != 0 && d < 2*time.Minute {
		bad("twin.replica.max_age", "%s (expected at least 2m, the stream's duplicate window)", d)
	}
	if r.MaxBytes < 0 {
		bad("twin.replica.max_bytes", "%d (expected bytes; 0 for the default 1 GiB)", r.MaxBytes)
	}
	if r.SnapshotInterval.D() < 0 {
		bad("twin.replica.snapshot_interval", "%s (expected a positive duration)", r.SnapshotInterval.D())
	}
}
