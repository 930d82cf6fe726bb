package ctl

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/ponte-city/ponte/internal/version"
)

// Exit statuses.
const (
	ExitOK    = 0
	ExitFail  = 1 // the checked thing is wrong, or the device could not be read
	ExitUsage = 2 // the command line is wrong
)

// Env is what a command may touch.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Log            *slog.Logger
	// Commands are further commands by name, wired in by cmd/ponte-ctl
	// (the operators' deadletter command, which lives with ingest).
	Commands map[string]func(ctx context.Context, env Env, args []string) int
}

const usage = `ponte-ctl: the Ponte technician's tool

Usage:
  ponte-ctl init [--out site.yaml] [--force] --gateway ID --broker URL [--password-file FILE]
      [--location LON,LAT] [--profiles DIR] --device name=N,profile=P,address=A[,unit=N][,id=ID][,lon=X,lat=Y][,area=A][,entity=E] ...
                                          write a gateway's site config; asks for what is missing on a terminal
  ponte-ctl validate SITE.yaml|PROFILE.yaml... [--profiles DIR]
                                          check site configs with every profile they name, or profiles by path
  ponte-ctl test SITE.yaml [--profiles DIR] [--json]
                                          read every device of a site config once, a table per device
  ponte-ctl profile validate FILE...     check device profiles; every error as file:line: field: problem
  ponte-ctl probe --profile FILE ADDRESS  read every point of a device once
      --modbus tcp://HOST:PORT --unit N
      --modbus 'rtu:///dev/ttyUSB0?baud=9600&parity=E' --unit N
      --serial /dev/ttyUSB1 [--baud 9600]
      --mqtt tcp://HOST:1883 --id DEVEUI
      [--timeout 5s] [--json]
  ponte-ctl scan --rtu /dev/ttyUSB0 | --tcp HOST:502
                                          find the Modbus units that answer, and suggest their profiles
      [--baud 9600|auto] [--parity E|N|O|auto] [--units 1-247] [--timeout 300ms]
      [--profiles DIR | --profile FILE]
  ponte-ctl tail [--device D] [--point P] [-n N] [--json]
                                          a running agent's live readings, as the sources read them
  ponte-ctl status [--url http://127.0.0.1:9107] [--json]
                                          a running agent: buffer, uplink, each device's state and what ingest refused
  ponte-ctl enroll SITE.yaml --url https://INGEST:PORT --token-file FILE [--ca FILE] [--csr] [--timeout 10m]
                                          register the gateway and its devices with ingest; writes the credentials (0600)
  ponte-ctl password-hash < password      bcrypt hash of a gateway password, for ingest's password_hash
  ponte-ctl --version                     the version of this build
  ponte-ctl deadletter list|show|replay   ingest's dead letters: what was refused and why; replay after a fix
      list [--dir DIR | --config INGEST.yaml] [--gateway ID] [--reason R] [--json]
      show ID [--dir DIR | --config INGEST.yaml] [--json]
      replay ID [--url http://INGEST:8080] [--token-file FILE] [--config INGEST.yaml]
  ponte-ctl enrolment token|list|revoke   for operators: enrolment tokens, enrolled gateways, revocation
      token --gateway ID | --prefix P [--ttl 24h]; list [--tokens]; revoke ID
      [--url https://INGEST:8443] [--ca FILE] [--token-file FILE] [--config INGEST.yaml] [--json]
  ponte-ctl nats-issuer FILE              for operators: a new signing key for ingest's NATS auth callout; prints its public key
`

// Run runs the command line args (without the program name).
func Run(ctx context.Context, env Env, args []string) int {
	if env.Log == nil {
		env.Log = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return ExitUsage
	}
	if cmd, ok := env.Commands[args[0]]; ok {
		return cmd(ctx, env, args[1:])
	}
	switch args[0] {
	case "profile":
		if len(args) < 2 || args[1] != "validate" {
			fmt.Fprintf(env.Stderr, "ponte-ctl profile: expected \"validate FILE...\"\n")
			return ExitUsage
		}
		return validateProfiles(env, args[2:])
	case "probe":
		return probe(ctx, env, args[1:])
	case "init":
		return initSite(env, args[1:])
	case "validate":
		return validate(env, args[1:])
	case "test":
		return testSite(ctx, env, args[1:])
	case "version", "--version", "-version":
		fmt.Fprintln(env.Stdout, version.Line("ponte-ctl"))
		return ExitOK
	case "status":
		return status(ctx, env, args[1:])
	case "tail":
		return tail(ctx, env, args[1:])
	case "scan":
		return scan(ctx, env, args[1:])
	case "enroll", "enrol":
		return enroll(ctx, env, args[1:])
	case "password-hash":
		if env.Stdin == nil {
			env.Stdin = strings.NewReader("")
		}
		return passwordHash(env, env.Stdin, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usage)
		return ExitOK
	}
	fmt.Fprintf(env.Stderr, "ponte-ctl: unknown command %q\n\n%s", args[0], usage)
	return ExitUsage
}

// errorLines splits a joined error into its lines.
func errorLines(err error) []string {
	return strings.Split(strings.TrimSpace(err.Error()), "\n")
}
