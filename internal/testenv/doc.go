// Package testenv starts the real components that Ponte's integration tests
// run against: a Mosquitto broker on a free loopback port, and pseudo-terminal
// pairs made by socat that stand in for a serial cable. Process is the one
// harness for a program a test runs (start, log, wait until ready, kill,
// stop, start again); Eventually is the one way a test waits for a
// condition.
//
// Integration (and Need, and every starter built on it) skips the test
// under `go test -short`, so the unit tests run with nothing but Go
// installed. Without -short a component that is missing fails the test
// with the command that installs it; nothing else skips (under CI=true a
// skip would hide a missing install step in deploy/bootstrap, which
// .ci/run and `make test` run). Need looks on PATH, in the sbin folders and
// in the checkout's .tools/bin (ToolsBin), where the bootstrap builds
// influxd, so a plain `go test` finds it too.
package testenv
