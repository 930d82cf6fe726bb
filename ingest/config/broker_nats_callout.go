package config

import (
	"github.com/nats-io/nkeys"

	"github.com/ponte-city/ponte/ingest/natscallout"
	"github.com/ponte-city/ponte/internal/yamlconf"
)

// NATSCallout (broker.nats.callout) runs ingest's NATS auth callout, so
// that gateways enrolled with ingest, and the gateways of this file, log
// in to the cluster with the passwords ingest knows (package
// natscallout). The nodes must include deploy/nats/callout.conf with the
// issuer's public key. It answers on broker.nats' connection.
type NATSCallout struct {
	// IssuerSeedFile is the account seed that signs the answers
	// (`ponte-ctl nats-issuer FILE` writes one; relative to this file's
	// folder). Required; never logged.
	IssuerSeedFile string `yaml:"issuer_seed_file"`
	// Account is the account gateways are placed in (default PONTE, as
	// accounts.conf names it).
	Account string `yaml:"account"`
	// Workers check passwords concurrently (default: the CPUs); Queue
	// requests wait for them (default 256).
	Workers int `yaml:"workers"`
	Queue   int `yaml:"queue"`
	// Timeout bounds a request's wait for a worker (default 2s, the
	// servers' own authorization timeout).
	Timeout yamlconf.Duration `yaml:"timeout"`

	issuer nkeys.KeyPair
}

// Issuer returns the key pair of IssuerSeedFile, read by validation.
func (n *NATSCallout) Issuer() nkeys.KeyPair { return n.issuer }

// validateNATSCallout checks broker.nats.callout and reads its seed file.
func (c *Config) validateNATSCallout(n *NATSCallout, bad func(path, format string, args ...any)) {
	const p = "broker.nats.callout"
	if n.IssuerSeedFile == "" {
		bad(p+".issuer_seed_file", "required: the account seed that signs the callout's answers (ponte-ctl nats-issuer FILE writes one)")
	} else {
		n.IssuerSeedFile = c.resolve(n.IssuerSeedFile)
		kp, err := natscallout.LoadIssuer(n.IssuerSeedFile)
		if err != nil {
			bad(p+".issuer_seed_file", "%v", err)
		}
		n.issuer = kp
	}
	if n.Workers < 0 {
		bad(p+".workers", "%d (expected a positive number; 0 for the number of CPUs)", n.Workers)
	}
	if n.Queue < 0 {
		bad(p+".queue", "%d (expected a positive number of requests; 0 for the default %d)", n.Queue, natscallout.DefaultQueue)
	}
	if n.Timeout < 0 {
		bad(p+".timeout", "%v (expected a positive duration, e.g. 2s)", n.Timeout.D())
	}
}
