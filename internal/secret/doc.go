// Package secret is what ponte-ingest and ponte-edge share about the
// secrets in their configuration files: passwords and tokens given inline,
// in a file (password_file, token_file, http_token_file) or in an
// environment variable (password_env, token_env, http_token_env); the
// checks that refuse weak ones; and the warning for a file holding secrets
// that others can read.
//
// Decisions:
//
//   - A secret is given in exactly one of the three ways. A file holds the
//     secret alone; one trailing newline (\n or \r\n) is trimmed, so
//     `echo $PASS > file` works. An environment variable that is unset or
//     empty is an error: a service must not start with no secret because
//     a unit file lost a line.
//   - Refused at start-up: a secret written in one of the shipped example
//     configs (Placeholders; a test derives the list from deploy/ so it
//     cannot drift), a password or token shorter than MinLength
//     characters, a bcrypt hash that is not one or costs less than
//     MinBcryptCost. Copying the example and forgetting a field must not
//     give a running service that anyone who read the example can talk to.
//   - A file holding secrets (the config itself when it holds any inline,
//     or a *_file) that the group or others may read is not refused (an
//     operator may rely on a group on purpose) but warned about at every
//     start, naming the file and the fix (chmod 600).
package secret
