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
//	    user: ponte-ingest        # login and tls as in NATSConn
//	    stream: PONTE_APPLIED     # default
//	    bucket: PONTE_TWIN        # snapshots (default)
//	    replicas: 3               # default
//	    max_age: 24h              # default; at least 2m
//	    max_bytes: 1073741824     # default 1 GiB
//	    snapshot_interval: 1m     # default
type Replica struct {
	// NATSConn: the servers, ingest's login and TLS.
	NATSConn         `yaml:",inline"`
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
	c.validateNATSConn("twin.replica", &r.NATSConn, bad)
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

// replicaSecretFields are the secret fields of twin.replica.
func (c *Config) replicaSecretFields() []secretField {
	if c.Twin == nil || c.Twin.Replica == nil {
		return nil
	}
	return natsConnSecrets("twin.replica", &c.Twin.Replica.NATSConn)
}
