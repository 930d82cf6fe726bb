package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ponte-city/ponte/internal/secret"
)

// Secrets in the file (see package secret for the rules shared with the
// edge): each password and token field may instead be given as
// <field>_file (a path, relative to the config file's folder) or
// <field>_env (an environment variable's name), one way per field. Parse
// resolves them into the field itself, so the rest of ingest reads
// Broker.Password, Influx.Token, Gateway.Password, Gateway.HTTPToken and
// Twin.Tokens whatever way they were given; Validate then refuses
// placeholders from the shipped example, secrets shorter than
// secret.MinLength and bcrypt hashes of cost below secret.MinBcryptCost,
// at the field (and line) the secret came from.

// secretState remembers where each resolved secret came from, for
// Validate's messages, and which files holding secrets others may read.
type secretState struct {
	// from maps a field path ("gateways[0].password") to where its secret
	// came from.
	from     map[string]secretSource
	warnings []secret.Warning
}

// secretSource is the field that gave a secret ("gateways[0].password_file")
// and where the secret was (secret.Ref.Where).
type secretSource struct{ field, where string }

// secretField is one secret field with its file and env alternatives.
type secretField struct {
	path      string
	value     *string
	file, env string
}

func (c *Config) secretFields() []secretField {
	fields := []secretField{
		{path: "broker.password", value: &c.Broker.Password, file: c.Broker.PasswordFile, env: c.Broker.PasswordEnv},
		{path: "influx.token", value: &c.Influx.Token, file: c.Influx.TokenFile, env: c.Influx.TokenEnv},
	}
	for i := range c.Gateways {
		g := &c.Gateways[i]
		p := fmt.Sprintf("gateways[%d].", i)
		fields = append(fields,
			secretField{path: p + "password", value: &g.Password, file: g.PasswordFile, env: g.PasswordEnv},
			secretField{path: p + "http_token", value: &g.HTTPToken, file: g.HTTPTokenFile, env: g.HTTPTokenEnv})
	}
	fields = append(fields, c.dedupSecretFields()...)
	fields = append(fields, c.replicaSecretFields()...)
	fields = append(fields, c.enrolmentSecretFields()...)
	fields = append(fields, c.sharedNATSSecretFields()...)
	fields = append(fields, c.natsSecretFields()...)
	// A section that took the top-level nats: block holds its secrets,
	// already checked as nats.*.
	return slices.DeleteFunc(fields, func(f secretField) bool {
		return slices.ContainsFunc(c.natsShared, func(p string) bool { return strings.HasPrefix(f.path, p+".") })
	})
}

// resolveSecrets reads the secrets given as files or environment
// variables into their fields, and notes the files holding secrets that
// others may read.
func (c *Config) resolveSecrets(lookupEnv func(string) (string, bool)) error {
	var errs []error
	c.secrets = secretState{from: map[string]secretSource{}}
	inline := false
	files := map[string]bool{}
	resolve := func(path string, r secret.Ref) (string, bool) {
		if r.File != "" {
			r.File = c.resolve(r.File)
		}
		v, from, problem := r.Resolve(lookupEnv)
		if problem != "" {
			errs = append(errs, c.doc.Errorf(path+from, "%s", problem))
			return "", false
		}
		c.secrets.from[path] = secretSource{path + from, r.Where(from)}
		inline = inline || (from == "" && v != "")
		if from == "_file" {
			files[r.File] = true
		}
		return v, true
	}
	for _, f := range c.secretFields() {
		if v, ok := resolve(f.path, secret.Ref{Value: *f.value, File: f.file, Env: f.env}); ok {
			*f.value = v
		}
	}
	for _, f := range c.tokenFields() {
		inline = inline || len(*f.tokens) > 0
		if f.file != "" || f.env != "" {
			ref := secret.Ref{File: f.file, Env: f.env}
			if len(*f.tokens) > 0 {
				ref.Value = "inline"
			}
			if v, ok := resolve(f.path, ref); ok {
				*f.tokens = splitTokens(v)
			}
		}
	}
	if inline && c.doc != nil {
		files[c.doc.File] = true
	}
	for _, f := range slices.Sorted(maps.Keys(files)) {
		if w, ok := secret.CheckFile(f); ok {
			c.secrets.warnings = append(c.secrets.warnings, w)
		}
	}
	return errors.Join(errs...)
}

// splitTokens splits a tokens_file (one per line, # comments) or a
// tokens_env (separated by commas) into tokens.
func splitTokens(s string) []string {
	var out []string
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' }) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// validateSecrets refuses weak secrets at the field they came from.
func (c *Config) validateSecrets(bad func(path, format string, args ...any)) {
	for _, f := range c.secretFields() {
		if problem := secret.Check(*f.value); problem != "" {
			src, ok := c.secrets.from[f.path]
			if !ok {
				src = secretSource{field: f.path}
			}
			bad(src.field, "%s %s", secret.Describe("the secret", src.where), problem)
		}
	}
	for i, g := range c.Gateways {
		if problem := secret.CheckHash(g.PasswordHash); problem != "" {
			bad(fmt.Sprintf("gateways[%d].password_hash", i), "%s", problem)
		}
	}
	for _, f := range c.tokenFields() {
		src, resolved := c.secrets.from[f.path]
		for i, tok := range *f.tokens {
			problem := secret.Check(tok)
			switch {
			case problem == "":
			case resolved:
				bad(src.field, "%s %s", secret.Describe(fmt.Sprintf("token %d", i+1), src.where), problem)
			default:
				bad(fmt.Sprintf("%s[%d]", f.path, i), "the token %s", problem)
			}
		}
	}
}

// tokenField is a list of operator tokens given inline, in a file or in
// the environment: twin.tokens and each tenant's.
type tokenField struct {
	path      string
	tokens    *[]string
	file, env string
}

// tokenFields returns the config's token lists.
func (c *Config) tokenFields() []tokenField {
	var out []tokenField
	if t := c.Twin; t != nil {
		out = append(out, tokenField{"twin.tokens", &t.Tokens, t.TokensFile, t.TokensEnv})
	}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		out = append(out, tokenField{fmt.Sprintf("tenants[%d].tokens", i), &t.Tokens, t.TokensFile, t.TokensEnv})
	}
	return out
}

// SecretWarnings returns the files holding secrets (the config file when
// it holds any inline, and the *_file files) that the group or others may
// read; ponte-ingest logs each at start-up.
func (c *Config) SecretWarnings() []secret.Warning {
	return append([]secret.Warning(nil), c.secrets.warnings...)
}
