// Package ctl implements ponte-ctl, the technician's command line: writing
// a gateway's site config (init), checking site configs and device
// profiles before they ship (validate), reading every device of a site
// once (test) or one device (probe) at the roadside, and reading a running
// agent (status).
//
// Commands write results to stdout and problems to stderr, and return an exit
// status (0 ok, 1 the thing checked is wrong, 2 the command was used wrongly),
// so they work in scripts and over a bad mobile link alike. Every command is
// a function of its arguments and writers, tested without a subprocess.
//
// Decisions shared by the commands:
//   - A problem is printed once: validate prints each as file:line: field:
//     problem, then one count and what to do next; probe and test print a
//     failure reason once under the table as a numbered note that the
//     failed rows refer to ("bad_comm: [1]"), not on every row.
//   - Every failure says what to check next (nextStep: the address, the
//     wiring and line settings, the unit ID, or for MQTT devices to trigger
//     an uplink or raise --timeout).
//   - init writes a site config only when agent.Parse accepts it offline,
//     with mode 0600, never over an existing file without --force, and
//     never a password: only password_file. Without a terminal on stdin it
//     asks nothing; missing flags are an error naming them (--ask forces
//     the questions, for scripts and tests).
//   - validate tells a profile from a site config by its top-level keys
//     (kind or model without gateway or devices), so one call checks both.
//   - test reads the devices one after the other: devices may share an
//     RS-485 line, and one answer at a time is what a technician reads.
package ctl
