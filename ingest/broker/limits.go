package broker

import (
	"errors"
	"fmt"
	"time"
)

// Limits bound what clients of the embedded broker can hold: sockets,
// sessions, messages per client and failed logins. The zero value of a
// field means its default (DefaultLimits).
type Limits struct {
	// MaxClients caps open sockets, connected or not (default 5000).
	// Beyond it a socket is closed as soon as it is accepted.
	MaxClients int
	// ConnectTimeout is how long a socket may take to finish its TLS
	// handshake and send CONNECT (default 10s); then it is closed.
	ConnectTimeout time.Duration
	// SessionExpiry is how long a persistent session (clean session off)
	// outlives its connection (default 24h). Nothing is lost when it
	// expires: a gateway's acks are cumulative and it resends what was not
	// acknowledged; ingest's unfinished batches are resent by gateways.
	SessionExpiry time.Duration
	// MaxOfflineSessions caps the persistent sessions kept without a
	// connection (default 10000). A client that would open a new persistent
	// session beyond it is refused; a client resuming its own session is
	// not. Client IDs are bound to credentials (package doc), so a gateway
	// can hold at most two sessions anyway.
	MaxOfflineSessions int
	// MaxInflight caps the unacknowledged QoS 1/2 messages the broker holds
	// for one client (default 8192); beyond it messages to that client are
	// dropped (and counted by mochi), which loses nothing: the gateway
	// resends what ingest did not acknowledge.
	MaxInflight int
	// MaxQueued caps the messages waiting to be written to one client's
	// socket (default 2048); beyond it they are dropped like above.
	MaxQueued int
	// AddressFailures and UserFailures are the budgets of failed logins
	// per source address and per username. Once one is spent, a CONNECT
	// from that address or for that user is refused without checking its
	// password (no bcrypt), until the bucket refills.
	AddressFailures, UserFailures Budget
}

// Budget is a token bucket of failed attempts: Burst failures at once,
// then one more every Every.
type Budget struct {
	Burst int
	Every time.Duration
}

// DefaultLimits returns the limits used for fields left zero.
func DefaultLimits() Limits {
	return Limits{
		MaxClients:         5000,
		ConnectTimeout:     10 * time.Second,
		SessionExpiry:      24 * time.Hour,
		MaxOfflineSessions: 10000,
		MaxInflight:        8192,
		MaxQueued:          2048,
		AddressFailures:    Budget{Burst: 10, Every: 6 * time.Second},
		UserFailures:       Budget{Burst: 10, Every: 6 * time.Second},
	}
}

// ValidateLimits fills defaults into l's zero fields and checks the rest
// (Config.Validate calls it).
func ValidateLimits(l *Limits) error { return l.validate() }

// validate fills defaults into zero fields and checks the rest.
func (l *Limits) validate() error {
	d := DefaultLimits()
	var errs []error
	positive := func(name string, v *int, def, max int) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0 || *v > max:
			errs = append(errs, fmt.Errorf("broker: limits: %s: %d (expected 1 to %d)", name, *v, max))
		}
	}
	positive("max_clients", &l.MaxClients, d.MaxClients, 1<<20)
	positive("max_offline_sessions", &l.MaxOfflineSessions, d.MaxOfflineSessions, 1<<24)
	positive("max_inflight", &l.MaxInflight, d.MaxInflight, 65535)
	positive("max_queued", &l.MaxQueued, d.MaxQueued, 1<<20)
	duration := func(name string, v *time.Duration, def, min time.Duration) {
		switch {
		case *v == 0:
			*v = def
		case *v < min:
			errs = append(errs, fmt.Errorf("broker: limits: %s: %v (expected at least %v)", name, *v, min))
		}
	}
	duration("connect_timeout", &l.ConnectTimeout, d.ConnectTimeout, 100*time.Millisecond)
	duration("session_expiry", &l.SessionExpiry, d.SessionExpiry, time.Second)
	if l.SessionExpiry > time.Duration(1<<32-1)*time.Second {
		errs = append(errs, fmt.Errorf("broker: limits: session_expiry: %v (expected at most 136 years)", l.SessionExpiry))
	}
	for _, b := range []struct {
		name string
		b    *Budget
		def  Budget
	}{{"address_failures", &l.AddressFailures, d.AddressFailures}, {"user_failures", &l.UserFailures, d.UserFailures}} {
		positive(b.name+".burst", &b.b.Burst, b.def.Burst, 1<<20)
		duration(b.name+".every", &b.b.Every, b.def.Every, time.Millisecond)
	}
	return errors.Join(errs...)
}
