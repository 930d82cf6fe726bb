// Package opsctl holds ponte-ctl's commands for operators of the central
// ingest (today: deadletter list|show|replay), which read ingest's files
// and configuration and call its API. They live on the ingest side so
// that the technician's commands (edge/ctl) import nothing of ingest;
// cmd/ponte-ctl wires both into one binary.
package opsctl

import "io"

// Exit statuses, as ponte-ctl's other commands use them.
const (
	ExitOK    = 0
	ExitFail  = 1 // the letter could not be read or replayed
	ExitUsage = 2 // the command line is wrong
)

// Env is what a command may touch.
type Env struct {
	Stdout, Stderr io.Writer
}
