package site

import (
	"os"

	"github.com/ponte-city/ponte/internal/secret"
)

// Uplink password (rules shared with ingest in internal/secret): given
// inline (password), in a file (password_file, relative to the config's
// folder) or in an environment variable (password_env), one way only.
// The agent refuses to start with a password from the shipped examples or
// one shorter than secret.MinLength, naming the field it came from; a
// config holding the password inline, or a password file, that the group
// or others may read is logged as a warning at every start.
//
// Offline (ponte-edge --check away from the box) the file and the
// variable are not read: they exist on the box only.

// uplinkPassword resolves and checks the uplink password into u.password.
func (v *validator) uplinkPassword(u *Uplink) {
	ref := secret.Ref{Value: u.Password, File: v.path(u.PasswordFile, ""), Env: u.PasswordEnv}
	u.PasswordFile = ref.File
	if v.offline && ref.Value == "" && (ref.File == "" || ref.Env == "") {
		return
	}
	pw, from, problem := ref.Resolve(os.LookupEnv)
	field := "uplink.password" + from
	if problem != "" {
		v.errorf(field, "%s", problem)
		return
	}
	if problem := secret.Check(pw); problem != "" {
		v.errorf(field, "%s %s", secret.Describe("the password", ref.Where(from)), problem)
	}
	u.password = pw
	file := v.doc.File
	if from == "_file" {
		file = ref.File
	}
	if from == "_env" || pw == "" {
		return
	}
	if w, ok := secret.CheckFile(file); ok {
		v.secretWarnings = append(v.secretWarnings, w)
	}
}

// SecretWarnings returns the files holding the uplink password (the
// config file when it holds it inline, or the password file) that the
// group or others may read; the agent logs each at start-up.
func (s *Site) SecretWarnings() []secret.Warning {
	return append([]secret.Warning(nil), s.secretWarnings...)
}
