// Package testenv starts the real components that Ponte's integration tests
// run against: a Mosquitto broker on a free loopback port, and pseudo-terminal
// pairs made by socat that stand in for a serial cable.
//
// A component that is missing fails the test with the command that installs
// it; integration tests never skip (in CI a skip would hide a missing install
// step in .ci/run).
package testenv
