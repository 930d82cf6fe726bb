// Package natsauth turns a NATS login (user and password, a token, or a
// .creds file) and TLS into nats.go connection options, once for every
// part of ingest that connects to a cluster (the JetStream intake, the
// dedup bucket, the applied stream).
package natsauth

import (
	"crypto/tls"

	"github.com/nats-io/nats.go"
)

// Login is one way to authenticate; configurations check that at most one
// is given, so the first set here wins.
type Login struct {
	User, Password  string
	Token           string
	CredentialsFile string
	TLS             *tls.Config
}

// Options returns the nats.go options of l (none for the zero Login).
func (l Login) Options() []nats.Option {
	var opts []nats.Option
	switch {
	case l.User != "":
		opts = append(opts, nats.UserInfo(l.User, l.Password))
	case l.Token != "":
		opts = append(opts, nats.Token(l.Token))
	case l.CredentialsFile != "":
		opts = append(opts, nats.UserCredentials(l.CredentialsFile))
	}
	if l.TLS != nil {
		opts = append(opts, nats.Secure(l.TLS))
	}
	return opts
}
