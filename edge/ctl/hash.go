package ctl

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// hashCost is bcrypt's work factor for gateway passwords: about a quarter
// of a second on a server core, paid once per MQTT connect.
const hashCost = 12

// passwordHash reads a password (first line of stdin) and prints its bcrypt
// hash for ingest's password_hash, so the config keeps no clear password.
func passwordHash(env Env, stdin io.Reader, args []string) int {
	if len(args) != 0 {
		fmt.Fprintln(env.Stderr, "ponte-ctl password-hash: reads the password from standard input; takes no arguments")
		return ExitUsage
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintf(env.Stderr, "ponte-ctl password-hash: read password: %v\n", err)
		return ExitFail
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < 12 {
		fmt.Fprintln(env.Stderr, "ponte-ctl password-hash: password shorter than 12 characters; a gateway password should be long and random")
		return ExitFail
	}
	if len(pw) > 72 {
		fmt.Fprintln(env.Stderr, "ponte-ctl password-hash: password longer than 72 bytes, bcrypt's limit")
		return ExitFail
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), hashCost)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl password-hash: %v\n", err)
		return ExitFail
	}
	fmt.Fprintln(env.Stdout, string(h))
	return ExitOK
}
