package site

import (
	"os"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/secret"
)

// RSMP security code (issue 16). An RSMP traffic light controller asks
// every command for a security code (SXL TLC 1.2.1, "Security codes";
// M0002 asks for security code 2). It is a secret of the installation,
// not of the profile and not of the operator: the site config names a
// file (security_code_file, relative to the config's folder) or an
// environment variable (security_code_env) holding it, one of them. It
// is never written inline, because the site config itself travels (to
// ingest at enrolment, into support tickets); the agent hands it to the
// rsmp source and nothing logs it or shows it in /status. No length
// rule applies: the controller sets the code, often a few digits. A file
// the group or others may read is warned about at every start, as the
// uplink password's is.
//
// Offline (ponte-ctl validate away from the box, ingest reading the
// inventory) the file and the variable are not read.

// securityCode resolves and checks the device's security code.
func (v *validator) securityCode(p string, d *Device) {
	if d.SecurityCodeFile == "" && d.SecurityCodeEnv == "" {
		return
	}
	field := p + ".security_code"
	if d.profile.Kind != profile.KindRSMP {
		given := field + "_file"
		if d.SecurityCodeFile == "" {
			given = field + "_env"
		}
		v.errorf(given, "a security code applies to RSMP devices only (profile %s is %s)", d.Profile, d.profile.Kind)
		return
	}
	ref := secret.Ref{File: v.path(d.SecurityCodeFile, ""), Env: d.SecurityCodeEnv}
	d.SecurityCodeFile = ref.File
	if v.offline {
		return
	}
	code, from, problem := ref.Resolve(os.LookupEnv)
	if problem != "" {
		v.errorf(field+from, "%s", problem)
		return
	}
	d.securityCode = code
	if from == "_file" {
		if w, ok := secret.CheckFile(ref.File); ok {
			v.secretWarnings = append(v.secretWarnings, w)
		}
	}
}

// SecurityCode is the RSMP security code read from SecurityCodeFile or
// SecurityCodeEnv ("" when none is given, or offline). Callers must not
// log it.
func (d *Device) SecurityCode() string { return d.securityCode }
