// Command ponte-ctl is the technician's and operator's tool: it validates
// device profiles, probes devices at the roadside, and lists, shows and
// replays ingest's dead letters. See `ponte-ctl help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ponte-city/ponte/edge/ctl"
	"github.com/ponte-city/ponte/ingest/opsctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := ctl.Run(ctx, ctl.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Commands: map[string]func(context.Context, ctl.Env, []string) int{
			"deadletter": func(ctx context.Context, env ctl.Env, args []string) int {
				return opsctl.Deadletter(ctx, opsctl.Env{Stdout: env.Stdout, Stderr: env.Stderr}, args)
			},
			"enrolment": func(ctx context.Context, env ctl.Env, args []string) int {
				return opsctl.Enrolment(ctx, opsctl.Env{Stdout: env.Stdout, Stderr: env.Stderr}, args)
			},
			"nats-issuer": func(ctx context.Context, env ctl.Env, args []string) int {
				return opsctl.NATSIssuer(ctx, opsctl.Env{Stdout: env.Stdout, Stderr: env.Stderr}, args)
			},
		}}, os.Args[1:])
	stop()
	os.Exit(code)
}
