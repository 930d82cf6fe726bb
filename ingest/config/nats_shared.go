package config

import "slices"

// The top-level nats: block is the connection every NATS section takes
// when it gives none of its own, so that a cluster's URLs, login and TLS
// are written once:
//
//	nats:
//	  urls: [nats://nats-1:4222, nats://nats-2:4222, nats://nats-3:4222]
//	  user: ponte-ingest
//	  password_file: /etc/ponte/nats.password
//	broker:
//	  nats: {callout: {issuer_seed_file: ...}}   # no urls: the block above
//	dedup:
//	  nats: {}
//	twin:
//	  replica: {}
//	enrolment:
//	  nats: {}
//
// A section that gives any connection field (urls, a login, tls) uses its
// own, all of it: the two are not merged field by field.

// isZero says whether n gives no connection field.
func (n *NATSConn) isZero() bool {
	return len(n.URLs) == 0 && n.User == "" && n.Password == "" && n.PasswordFile == "" && n.PasswordEnv == "" &&
		n.Token == "" && n.TokenFile == "" && n.TokenEnv == "" && n.Credentials == "" && n.TLS == nil
}

// clone is a copy of n that shares nothing with it.
func (n *NATSConn) clone() NATSConn {
	c := *n
	c.URLs = append([]string(nil), n.URLs...)
	if n.TLS != nil {
		t := *n.TLS
		c.TLS = &t
	}
	return c
}

// sharedNATSSecretFields are the top-level block's secrets.
func (c *Config) sharedNATSSecretFields() []secretField {
	if c.NATS == nil {
		return nil
	}
	return natsConnSecrets("nats", c.NATS)
}

// validateSharedNATS checks the top-level block, before the sections
// that take it.
func (c *Config) validateSharedNATS(bad func(path, format string, args ...any)) {
	if c.NATS != nil {
		c.validateNATSConn("nats", c.NATS, bad)
	}
}

// takeSharedNATS gives the section at path the top-level block when it
// gives no connection of its own, and says whether it did.
func (c *Config) takeSharedNATS(path string, n *NATSConn) bool {
	if slices.Contains(c.natsShared, path) {
		return true // taken by an earlier Validate (ponte-ingest validates again after its flags)
	}
	if c.NATS == nil || !n.isZero() {
		return false
	}
	*n = c.NATS.clone()
	c.natsShared = append(c.natsShared, path)
	return true
}

// checkSharedNATSUsed refuses a top-level block no section takes.
func (c *Config) checkSharedNATSUsed(bad func(path, format string, args ...any)) {
	if c.NATS != nil && len(c.natsShared) == 0 {
		bad("nats", "no section takes it: broker.nats, dedup.nats, twin.replica and enrolment.nats use it when they give no urls of their own (remove it, or remove their urls and login)")
	}
}
