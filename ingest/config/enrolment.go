package config

import (
	"github.com/ponte-city/ponte/ingest/enrol"
	"github.com/ponte-city/ponte/internal/yamlconf"
)

// Enrolment turns on the enrolment registry (package ingest/enrol):
// gateways enrol with `ponte-ctl enroll` and a token an operator issued,
// and join the device inventory with their site configs. Relative paths
// are taken from the config file's folder.
type Enrolment struct {
	// Dir holds the registry (default /var/lib/ponte-ingest/registry),
	// unless NATS is set.
	Dir string `yaml:"dir"`
	// NATS, when set, keeps the registry in a replicated JetStream
	// bucket shared by every instance (enrolment_nats.go).
	NATS *EnrolmentNATS `yaml:"nats"`
	// MaxGateways and MaxPendingTokens bound what the registry holds
	// (defaults enrol.DefaultMaxGateways, enrol.DefaultMaxPendingTokens).
	MaxGateways      int `yaml:"max_gateways"`
	MaxPendingTokens int `yaml:"max_pending_tokens"`
	// MaxGatewaysPerTenant and MaxPendingTokensPerTenant are one tenant's
	// shares of them (defaults enrol.DefaultMaxGatewaysPerTenant,
	// enrol.DefaultMaxPendingTokensPerTenant); left out, the global caps
	// are raised to at least (tenants+1) times the shares.
	MaxGatewaysPerTenant      int `yaml:"max_gateways_per_tenant"`
	MaxPendingTokensPerTenant int `yaml:"max_pending_tokens_per_tenant"`
	// CA, when set, signs client certificates for gateways that enrol
	// with a CSR (ponte-ctl enroll --csr): the CA the broker's TLS
	// listener trusts for gateways (on the embedded broker it is then
	// required there too: broker.tls).
	CA *EnrolmentCA `yaml:"ca"`
	// Mosquitto, when set (with broker.url), keeps Mosquitto's password
	// and ACL files in step with the registry.
	Mosquitto *EnrolmentMosquitto `yaml:"mosquitto"`
}

// EnrolmentCA is the CA that signs gateways' client certificates.
type EnrolmentCA struct {
	CertFile string            `yaml:"cert_file"`
	KeyFile  string            `yaml:"key_file"`
	Validity yamlconf.Duration `yaml:"validity"`
}

// EnrolmentMosquitto names Mosquitto's files (enrol.Mosquitto).
type EnrolmentMosquitto struct {
	PasswordFile  string   `yaml:"password_file"`
	ACLFile       string   `yaml:"acl_file"`
	ReloadCommand []string `yaml:"reload_command"`
}

func (c *Config) validateEnrolment(bad func(path, format string, args ...any)) {
	e := c.Enrolment
	if e == nil {
		return
	}
	if e.Dir == "" {
		e.Dir = "/var/lib/ponte-ingest/registry"
	}
	if e.NATS != nil {
		c.validateEnrolmentNATS(e.NATS, bad)
	}
	if c.Profiles == "" {
		bad("enrolment", "needs profiles: (the firmware profile folder enrolled site configs are checked against)")
	}
	if c.Twin == nil {
		bad("enrolment", "needs twin.tokens: operators issue enrolment tokens with their operator token")
	}
	if c.HTTP.TLS == nil {
		bad("enrolment", "needs http.tls: gateways receive their credentials over HTTPS only")
	}
	if e.MaxGateways < 0 {
		bad("enrolment.max_gateways", "%d (expected a positive number; 0 for the default %d)", e.MaxGateways, enrol.DefaultMaxGateways)
	}
	if e.MaxPendingTokens < 0 {
		bad("enrolment.max_pending_tokens", "%d (expected a positive number; 0 for the default %d)", e.MaxPendingTokens, enrol.DefaultMaxPendingTokens)
	}
	if e.MaxGatewaysPerTenant < 0 {
		bad("enrolment.max_gateways_per_tenant", "%d (expected a positive number; 0 for the default %d)", e.MaxGatewaysPerTenant, enrol.DefaultMaxGatewaysPerTenant)
	}
	if e.MaxPendingTokensPerTenant < 0 {
		bad("enrolment.max_pending_tokens_per_tenant", "%d (expected a positive number; 0 for the default %d)", e.MaxPendingTokensPerTenant, enrol.DefaultMaxPendingTokensPerTenant)
	}
	if ca := e.CA; ca != nil {
		if ca.CertFile == "" || ca.KeyFile == "" {
			bad("enrolment.ca", "needs cert_file and key_file (the CA's PEM certificate and key)")
		} else if _, err := enrol.LoadCA(c.resolve(ca.CertFile), c.resolve(ca.KeyFile), ca.Validity.D()); err != nil {
			bad("enrolment.ca", "%v", err)
		}
		if ca.Validity < 0 {
			bad("enrolment.ca.validity", "%v (expected a positive duration such as 9528h)", ca.Validity.D())
		}
		if c.Broker.URL == "" && c.Broker.TLS.Listen == "" {
			bad("enrolment.ca", "the embedded broker has no TLS listener (broker.tls.listen) where gateways could present the certificates")
		}
	}
	if m := e.Mosquitto; m != nil {
		if c.Broker.URL == "" {
			bad("enrolment.mosquitto", "only with an external Mosquitto (broker.url); the embedded broker takes enrolled gateways directly")
		}
		if m.PasswordFile == "" {
			bad("enrolment.mosquitto.password_file", "required (the file Mosquitto's password_file names)")
		}
		if m.ACLFile == "" {
			bad("enrolment.mosquitto.acl_file", "required (the file Mosquitto's acl_file names)")
		}
		if c.Broker.Password == "" {
			bad("enrolment.mosquitto", "needs broker.password (or password_file): ingest writes its own line of Mosquitto's password file")
		}
	}
}

// EnrolmentCA loads the enrolment CA (nil without one).
func (c *Config) EnrolmentCA() (*enrol.CA, error) {
	if c.Enrolment == nil || c.Enrolment.CA == nil {
		return nil, nil
	}
	ca := c.Enrolment.CA
	return enrol.LoadCA(c.resolve(ca.CertFile), c.resolve(ca.KeyFile), ca.Validity.D())
}

// EnrolmentPaths returns the registry folder, the profiles folder and
// Mosquitto's files resolved against the config file's folder.
func (c *Config) EnrolmentPaths() (dir, profiles, passwd, acl string) {
	e := c.Enrolment
	if e == nil {
		return "", "", "", ""
	}
	if m := e.Mosquitto; m != nil {
		passwd, acl = c.resolve(m.PasswordFile), c.resolve(m.ACLFile)
	}
	return c.resolve(e.Dir), c.resolve(c.Profiles), passwd, acl
}
