package config

import (
	"crypto/tls"
	"net"
	"strings"

	"github.com/ponte-city/ponte/ingest/broker"
	"github.com/ponte-city/ponte/internal/yamlconf"
)

// BrokerLimits are the embedded broker's limits (broker.Limits); zero
// fields take broker.DefaultLimits.
type BrokerLimits struct {
	MaxClients         int               `yaml:"max_clients"`
	ConnectTimeout     yamlconf.Duration `yaml:"connect_timeout"`
	SessionExpiry      yamlconf.Duration `yaml:"session_expiry"`
	MaxOfflineSessions int               `yaml:"max_offline_sessions"`
	MaxInflight        int               `yaml:"max_inflight"`
	MaxQueued          int               `yaml:"max_queued"`
	AddressFailures    FailureBudget     `yaml:"address_failures"`
	UserFailures       FailureBudget     `yaml:"user_failures"`
}

// FailureBudget is a budget of failed logins (broker.Budget).
type FailureBudget struct {
	Burst int               `yaml:"burst"`
	Every yamlconf.Duration `yaml:"every"`
}

// BrokerTLS is the embedded broker's TLS listener (broker.TLS).
type BrokerTLS struct {
	Listen   string `yaml:"listen"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Embedded returns the limits for broker.Config.
func (l BrokerLimits) Embedded() broker.Limits {
	return broker.Limits{
		MaxClients: l.MaxClients, ConnectTimeout: l.ConnectTimeout.D(), SessionExpiry: l.SessionExpiry.D(),
		MaxOfflineSessions: l.MaxOfflineSessions, MaxInflight: l.MaxInflight, MaxQueued: l.MaxQueued,
		AddressFailures: broker.Budget{Burst: l.AddressFailures.Burst, Every: l.AddressFailures.Every.D()},
		UserFailures:    broker.Budget{Burst: l.UserFailures.Burst, Every: l.UserFailures.Every.D()},
	}
}

// Embedded returns the TLS listener for broker.Config.
func (t BrokerTLS) Embedded() broker.TLS {
	return broker.TLS{Listen: t.Listen, CertFile: t.CertFile, KeyFile: t.KeyFile}
}

// limitsOf is the YAML form of l.
func limitsOf(l broker.Limits) BrokerLimits {
	return BrokerLimits{
		MaxClients: l.MaxClients, ConnectTimeout: yamlconf.Duration(l.ConnectTimeout), SessionExpiry: yamlconf.Duration(l.SessionExpiry),
		MaxOfflineSessions: l.MaxOfflineSessions, MaxInflight: l.MaxInflight, MaxQueued: l.MaxQueued,
		AddressFailures: FailureBudget{Burst: l.AddressFailures.Burst, Every: yamlconf.Duration(l.AddressFailures.Every)},
		UserFailures:    FailureBudget{Burst: l.UserFailures.Burst, Every: yamlconf.Duration(l.UserFailures.Every)},
	}
}

// limitsPrefix starts each of broker.ValidateLimits' errors, followed by
// the field's YAML name (e.g. "address_failures.burst") and the problem.
const limitsPrefix = "broker: limits: "

// validateBroker checks the embedded broker's limits and TLS, naming the
// field, and fills the limits' defaults in (so that c.Broker.Limits holds
// what the broker will use).
func (c *Config) validateBroker(bad func(path, format string, args ...any)) {
	if c.Broker.URL != "" || c.Broker.NATS != nil {
		return
	}
	lim := c.Broker.Limits.Embedded()
	err := broker.ValidateLimits(&lim)
	c.Broker.Limits = limitsOf(lim)
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			// broker names each field by its YAML name; anything else is
			// reported on the limits as a whole.
			field, msg, found := strings.Cut(strings.TrimPrefix(e.Error(), limitsPrefix), ": ")
			if !found || !strings.HasPrefix(e.Error(), limitsPrefix) {
				bad("broker.limits", "%v", e)
				continue
			}
			bad("broker.limits."+field, "%s", msg)
		}
	} else if err != nil {
		bad("broker.limits", "%v", err)
	}
	t := c.Broker.TLS
	switch {
	case t.Listen == "" && (t.CertFile != "" || t.KeyFile != ""):
		bad("broker.tls.listen", "required with cert_file and key_file (e.g. \":8883\"); without it no TLS listener runs")
	case t.Listen == "":
	default:
		if _, _, err := net.SplitHostPort(t.Listen); err != nil {
			bad("broker.tls.listen", "%q is not host:port", t.Listen)
		}
		if t.CertFile == "" {
			bad("broker.tls.cert_file", "required with listen %q", t.Listen)
		}
		if t.KeyFile == "" {
			bad("broker.tls.key_file", "required with listen %q", t.Listen)
		}
		if t.CertFile != "" && t.KeyFile != "" {
			if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
				bad("broker.tls.cert_file", "cannot load %q with key_file %q: %v", t.CertFile, t.KeyFile, err)
			}
		}
	}
}
