package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/natscallout"
)

// natsCallout returns the NATS auth callout of broker.nats.callout, to
// run until ctx is done, or nil when it is not configured. It answers on
// its own connection with broker.nats' login, for the gateways of the
// configuration file and, with enrolment, the registry's.
func natsCallout(cfg *config.Config, inv *inventory, log *slog.Logger, reg prometheus.Registerer) (func(ctx context.Context) error, error) {
	n := cfg.Broker.NATS
	if n == nil || n.Callout == nil {
		return nil, nil
	}
	lookup, err := calloutLookup(cfg, inv)
	if err != nil {
		return nil, err
	}
	co := n.Callout
	svc, err := natscallout.New(natscallout.Config{Issuer: co.Issuer(), Account: co.Account, Topics: cfg.Topics(),
		Lookup: lookup, Workers: co.Workers, Queue: co.Queue, Timeout: co.Timeout.D(), Logger: log, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("ingest: broker.nats.callout: %w", err)
	}
	log.Info("NATS auth callout configured", "issuer", svc.Issuer(), "account", co.Account)
	return func(ctx context.Context) error {
		opts := append(n.Options(), nats.Name("ponte-ingest callout"),
			nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
		nc, err := nats.Connect(strings.Join(n.URLs, ","), opts...)
		if err != nil {
			return fmt.Errorf("ingest: broker.nats.callout: connect: %w", err)
		}
		defer nc.Close()
		return svc.Serve(ctx, nc)
	}, nil
}

// calloutLookup returns the gateways' password hashes: the configuration
// file's (a password given in the clear is hashed here, at the lowest
// cost: it never leaves memory), then the enrolment registry's.
func calloutLookup(cfg *config.Config, inv *inventory) (natscallout.Lookup, error) {
	static := cfg.PasswordHashes()
	for id, pw := range cfg.Passwords() {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			return nil, fmt.Errorf("ingest: broker.nats.callout: gateway %s: %w", id, err)
		}
		static[id] = h
	}
	return func(id string) ([]byte, bool) {
		if h, ok := static[id]; ok {
			return h, true
		}
		if inv.reg != nil {
			return inv.reg.PasswordHash(id)
		}
		return nil, false
	}, nil
}
