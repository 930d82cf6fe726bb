package opsctl

import (
	"context"
	"fmt"

	"github.com/ponte-city/ponte/ingest/natscallout"
)

const natsIssuerUsage = `Usage:
  ponte-ctl nats-issuer FILE
      writes a new account seed to FILE (mode 0600; an existing file is
      never replaced) for ingest's broker.nats.callout.issuer_seed_file, and
      prints its public key for the issuer of deploy/nats/callout.conf.
`

// NATSIssuer runs `ponte-ctl nats-issuer` (args after "nats-issuer") and
// returns the exit status.
func NATSIssuer(_ context.Context, env Env, args []string) int {
	if len(args) != 1 || args[0] == "" || args[0][0] == '-' {
		fmt.Fprint(env.Stderr, "ponte-ctl nats-issuer: expected the seed file to write\n"+natsIssuerUsage)
		return ExitUsage
	}
	pub, err := natscallout.WriteIssuer(args[0])
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl nats-issuer: %v\n", err)
		return ExitFail
	}
	fmt.Fprintf(env.Stdout, "%s\n", pub)
	fmt.Fprintf(env.Stderr, "seed written to %s (keep it secret: ingest's broker.nats.callout.issuer_seed_file);\n"+
		"set the key above as issuer in every node's callout.conf and restart the nodes one at a time\n", args[0])
	return ExitOK
}
