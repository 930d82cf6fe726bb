package config

import (
	"time"

	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/internal/yamlconf"
)

// Dedup is where the dedup state lives: files in state_dir (one machine)
// unless nats is set.
type Dedup struct {
	// NATS, if set, keeps the state in a replicated JetStream key-value
	// bucket, shared by ingest instances on several machines (see
	// package dedup).
	NATS *DedupNATS `yaml:"nats"`
}

// DedupNATS is the key-value bucket of the dedup state (dedup.KVConfig).
// Authenticate with user and password, a token, or a credentials file,
// at most one way; password and token may be given as *_file or *_env
// (see secrets.go).
type DedupNATS struct {
	// NATSConn: the servers, ingest's login and TLS.
	NATSConn `yaml:",inline"`
	Bucket   string            `yaml:"bucket"`
	Replicas int               `yaml:"replicas"`
	Timeout  yamlconf.Duration `yaml:"timeout"`
}

// KV returns the configuration of the dedup.KVStore, or false when the
// state is kept in files (dedup.FileStore in StateDir).
func (c *Config) KV() (dedup.KVConfig, bool) {
	if c.Dedup == nil || c.Dedup.NATS == nil {
		return dedup.KVConfig{}, false
	}
	n := c.Dedup.NATS
	kc := dedup.KVConfig{URLs: n.URLs, Bucket: n.Bucket, Replicas: n.Replicas, Timeout: n.Timeout.D(), Options: n.Options()}
	return kc, true
}

// dedupSecretFields are the secret fields of dedup.nats.
func (c *Config) dedupSecretFields() []secretField {
	if c.Dedup == nil || c.Dedup.NATS == nil {
		return nil
	}
	n := c.Dedup.NATS
	return natsConnSecrets("dedup.nats", &n.NATSConn)
}

// validateDedup checks dedup.nats.
func (c *Config) validateDedup(bad func(path, format string, args ...any)) {
	if c.Dedup == nil || c.Dedup.NATS == nil {
		return
	}
	n := c.Dedup.NATS
	const p = "dedup.nats."
	c.validateNATSConn("dedup.nats", &n.NATSConn, bad)
	if n.Bucket != "" && !dedup.ValidBucket(n.Bucket) {
		bad(p+"bucket", "%q (expected letters, digits, '-' and '_'; default %s)", n.Bucket, dedup.DefaultBucket)
	}
	if n.Replicas < 0 || n.Replicas > 5 {
		bad(p+"replicas", "%d (expected 1 to 5; default 3, for a three-node cluster)", n.Replicas)
	}
	if d := n.Timeout.D(); d < 0 || (d > 0 && d < 100*time.Millisecond) {
		bad(p+"timeout", "%v (expected a duration of 100ms or more; default 5s)", d)
	}
}
