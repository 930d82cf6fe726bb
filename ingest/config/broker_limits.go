package config

import (
	"github.com/ponte-city/ponte/edge/yamlconf"
	"github.com/ponte-city/ponte/ingest/broker"
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

// validateBroker checks the embedded broker's limits and TLS, naming the
// field.
func (c *Config) validateBroker(bad func(path, format string, args ...any)) {
	if c.Broker.URL != "" {
		return
	}
	lim := c.Broker.Limits.Embedded()
	if err := broker.ValidateLimits(&lim); err != nil {
		bad("broker.limits", "%v", err)
	}
	t := c.Broker.TLS
	if t.Listen != "" && (t.CertFile == "" || t.KeyFile == "") {
		bad("broker.tls", "listen %q needs cert_file and key_file", t.Listen)
	}
}
