// Package ctl implements ponte-ctl, the technician's command line: checking
// device profiles before they ship and probing a device at the roadside.
//
// Commands write results to stdout and problems to stderr, and return an exit
// status (0 ok, 1 the thing checked is wrong, 2 the command was used wrongly),
// so they work in scripts and over a bad mobile link alike. Every command is
// a function of its arguments and writers, tested without a subprocess.
package ctl
