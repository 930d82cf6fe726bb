package config

import (
	"time"

	"github.com/ponte-city/ponte/ingest/enrol"
	"github.com/ponte-city/ponte/internal/natskv"
	"github.com/ponte-city/ponte/internal/yamlconf"
)

// EnrolmentNATS keeps the enrolment registry in a replicated JetStream
// key-value bucket (enrol.KVConfig) instead of enrolment.dir, so that
// every ingest instance of a NATS cluster enrols, revokes and sees the
// same gateways:
//
//	enrolment:
//	  nats:
//	    urls: [nats://nats-1:4222, nats://nats-2:4222, nats://nats-3:4222]
//	    user: ponte-ingest
//	    password_file: /etc/ponte/nats.password
//	    bucket: ponte-enrol   # default
//	    replicas: 3           # default
//	    timeout: 5s           # default
type EnrolmentNATS struct {
	// NATSConn: the servers, ingest's login and TLS.
	NATSConn `yaml:",inline"`
	Bucket   string            `yaml:"bucket"`
	Replicas int               `yaml:"replicas"`
	Timeout  yamlconf.Duration `yaml:"timeout"`
}

// EnrolmentKV returns the registry's bucket, or nil when the registry is
// kept in enrolment.dir.
func (c *Config) EnrolmentKV() *enrol.KVConfig {
	if c.Enrolment == nil || c.Enrolment.NATS == nil {
		return nil
	}
	n := c.Enrolment.NATS
	return &enrol.KVConfig{URLs: n.URLs, Bucket: n.Bucket, Replicas: n.Replicas, Timeout: n.Timeout.D(), Options: n.Options()}
}

// enrolmentSecretFields are the secret fields of enrolment.nats.
func (c *Config) enrolmentSecretFields() []secretField {
	if c.Enrolment == nil || c.Enrolment.NATS == nil {
		return nil
	}
	return natsConnSecrets("enrolment.nats", &c.Enrolment.NATS.NATSConn)
}

// validateEnrolmentNATS checks enrolment.nats.
func (c *Config) validateEnrolmentNATS(n *EnrolmentNATS, bad func(path, format string, args ...any)) {
	const p = "enrolment.nats"
	c.validateNATSConn(p, &n.NATSConn, bad)
	if n.Bucket != "" && !natskv.ValidBucket(n.Bucket) {
		bad(p+".bucket", "%q (expected letters, digits, '-' and '_'; default %s)", n.Bucket, enrol.DefaultBucket)
	}
	if n.Replicas < 0 || n.Replicas > 5 {
		bad(p+".replicas", "%d (expected 1 to 5; default 3, for a three-node cluster)", n.Replicas)
	}
	if d := n.Timeout.D(); d < 0 || (d > 0 && d < 100*time.Millisecond) {
		bad(p+".timeout", "%v (expected a duration of 100ms or more; default 5s)", d)
	}
}
