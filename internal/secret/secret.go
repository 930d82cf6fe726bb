package secret

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// MinLength is the shortest password or token accepted, in characters.
const MinLength = 16

// MinBcryptCost is the lowest bcrypt cost accepted for a password hash
// (ponte-ctl password-hash makes hashes of this cost or more).
const MinBcryptCost = 10

// placeholders are the secrets written in the shipped example configs
// (deploy/ingest/ponte-ingest.yaml, deploy/sites/*.yaml).
// TestPlaceholdersMatchShippedExamples keeps this list equal to what
// those files hold.
var placeholders = []string{
	"change-me-broker-password",
	"change-me-gateway-password-fi-lighting-q2-0042",
	"change-me-http-token-fi-lighting-q2-0042",
	"change-me-operator-token-0123456789",
	// bcrypt of "change-me-gateway-password-ba-centro-02".
	"$2a$10$7v1QvWsNAFQ/WttR1.KSVOh2WDxBPbq2K/v6S6cdGvovrHI9RHLXK",
}

// Placeholders returns the secrets written in the shipped example
// configs, which no running service may use.
func Placeholders() []string { return append([]string(nil), placeholders...) }

func isPlaceholder(s string) bool {
	for _, p := range placeholders {
		if s == p {
			return true
		}
	}
	return false
}

// Check returns what is wrong with a password or token, or "" when it may
// be used. An empty secret is the caller's business (often "none").
func Check(s string) string {
	switch {
	case s == "":
		return ""
	case isPlaceholder(s):
		return "is the placeholder from the shipped example config; set a long random secret of your own (e.g. head -c 24 /dev/urandom | base64)"
	case len([]rune(s)) < MinLength:
		return fmt.Sprintf("is %d characters long (expected at least %d; use a long random secret, e.g. head -c 24 /dev/urandom | base64)", len([]rune(s)), MinLength)
	}
	return ""
}

// CheckHash returns what is wrong with a bcrypt password hash, or "".
func CheckHash(h string) string {
	if h == "" {
		return ""
	}
	cost, err := bcrypt.Cost([]byte(h))
	switch {
	case err != nil:
		return fmt.Sprintf("not a bcrypt hash (%v); make one with ponte-ctl password-hash", err)
	case isPlaceholder(h):
		return "is the placeholder from the shipped example config; make a hash of your own password with ponte-ctl password-hash"
	case cost < MinBcryptCost:
		return fmt.Sprintf("bcrypt cost %d (expected at least %d); make a new hash with ponte-ctl password-hash", cost, MinBcryptCost)
	}
	return ""
}

// Ref is one secret field of a config file with its two alternatives:
// Value inline, File a path of a file holding it, Env the name of an
// environment variable holding it.
type Ref struct {
	Value, File, Env string
}

// Resolve returns the secret Ref points at and the suffix of the field it
// came from ("", "_file" or "_env"), so a later problem with the secret
// can be reported at that field. The problem, when not "", is meant for
// that field (for a secret given more than one way, the _file or _env
// field given). A File must already be an absolute path or relative to
// the working directory; lookupEnv is os.LookupEnv outside tests.
func (r Ref) Resolve(lookupEnv func(string) (string, bool)) (value, from, problem string) {
	n := 0
	for _, s := range []string{r.Value, r.File, r.Env} {
		if s != "" {
			n++
		}
	}
	switch {
	case n > 1:
		from = "_env"
		if r.File != "" {
			from = "_file"
		}
		return "", from, "give the secret one way only: inline, in a _file or in an _env variable"
	case r.File != "":
		data, err := os.ReadFile(r.File)
		if err != nil {
			return "", "_file", fmt.Sprintf("cannot read the secret: %v", err)
		}
		s := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
		if s == "" {
			return "", "_file", fmt.Sprintf("%s is empty (expected the secret)", r.File)
		}
		return s, "_file", ""
	case r.Env != "":
		s, ok := lookupEnv(r.Env)
		if !ok || s == "" {
			return "", "_env", fmt.Sprintf("environment variable %s is not set (expected the secret in it)", r.Env)
		}
		return s, "_env", ""
	}
	return r.Value, "", ""
}

// Where says where the secret resolved from the field suffix from was,
// for messages: "" inline, "in /etc/ponte/gw.pw", "in $NAME".
func (r Ref) Where(from string) string {
	switch from {
	case "_file":
		return "in " + r.File
	case "_env":
		return "in $" + r.Env
	}
	return ""
}

// Describe names a secret for a message: what ("the secret", "token 2")
// followed by where, when not "".
func Describe(what, where string) string {
	if where == "" {
		return what
	}
	return what + " " + where
}

// Warning is a file holding secrets that more than its owner may read.
type Warning struct {
	// File is the file's path.
	File string
	// Mode is its permission bits.
	Mode fs.FileMode
}

// Fix is the command that makes the file private to its owner.
func (w Warning) Fix() string { return "chmod 600 " + w.File }

// String describes the warning for a person.
func (w Warning) String() string {
	return fmt.Sprintf("%s holds secrets and is readable by group or others (mode %#o); fix: %s", w.File, w.Mode, w.Fix())
}

// Log writes the warning to log at level Warn.
func (w Warning) Log(log *slog.Logger) {
	log.Warn("file holding secrets is readable by group or others", "file", w.File, "mode", fmt.Sprintf("%#o", w.Mode), "fix", w.Fix())
}

// CheckFile returns a Warning when the file at path may be read by its
// group or others; ok is false when it may not, or cannot be examined
// (reading it reports that).
func CheckFile(path string) (w Warning, ok bool) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o044 == 0 {
		return Warning{}, false
	}
	return Warning{File: path, Mode: fi.Mode().Perm()}, true
}
