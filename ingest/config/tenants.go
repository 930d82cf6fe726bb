package config

import (
	"fmt"
	"slices"

	"github.com/ponte-city/ponte/twin"
)

// Tenant is one organisation sharing the platform, usually a municipality
// of a metropolitan area (see twin.Tenant): its areas and gateways, the
// operator tokens that see only them, and how its open data is published.
type Tenant struct {
	// ID names the tenant in URLs (/t/{id}/indicators/) and in the
	// NGSILD-Tenant header: lower-case letters, digits and '-'.
	ID string `yaml:"id"`
	// Name is how people read it ("Comune di Bitonto").
	Name string `yaml:"name"`
	// Areas are its areas by ID (ISTAT code) or name, usually its
	// municipality; districts and roads inside them are its too.
	Areas []string `yaml:"areas"`
	// Gateways are its gateways by ID; GatewayPrefixes claim every gateway
	// whose ID starts with one of them, enrolled ones included.
	Gateways        []string `yaml:"gateways"`
	GatewayPrefixes []string `yaml:"gateway_prefixes"`
	// Tokens are the operator tokens that see this tenant only (or
	// TokensFile, one per line, or TokensEnv, separated by commas), like
	// twin.tokens, which see every tenant.
	Tokens     []string `yaml:"tokens"`
	TokensFile string   `yaml:"tokens_file"`
	TokensEnv  string   `yaml:"tokens_env"`
	// Licence is the licence of its published data (default twin.licence).
	Licence *TwinLicence `yaml:"licence"`
	// OpenData, if set, publishes its own open-data catalogue under
	// /t/{id}/opendata/ (opendata.go).
	OpenData *TenantOpenData `yaml:"opendata"`
}

// TwinTenants returns the tenants as the twin takes them.
func (c *Config) TwinTenants() []twin.Tenant {
	out := make([]twin.Tenant, 0, len(c.Tenants))
	for _, t := range c.Tenants {
		out = append(out, twin.Tenant{ID: t.ID, Name: t.Name, Areas: slices.Clone(t.Areas),
			Gateways: slices.Clone(t.Gateways), GatewayPrefixes: slices.Clone(t.GatewayPrefixes)})
	}
	return out
}

// validateTenants checks what can be checked without the areas' files
// (the twin checks the areas exist when it starts): tenants need a twin,
// IDs, names, one tenant per gateway, at least one token each, and no
// token shared with another tenant or with twin.tokens.
func (c *Config) validateTenants(bad func(path, format string, args ...any)) {
	if len(c.Tenants) == 0 {
		return
	}
	if c.Twin == nil {
		bad("tenants", "need a twin section: tenants scope the twin's API")
		return
	}
	for _, e := range twin.TenantErrors(c.TwinTenants()) {
		bad(fmt.Sprintf("tenants[%d].%s", e.Index, e.Field), "%s", e.Problem)
	}
	owner := map[string]string{}
	for _, tok := range c.Twin.Tokens {
		owner[tok] = "twin.tokens"
	}
	for i, t := range c.Tenants {
		p := fmt.Sprintf("tenants[%d].tokens", i)
		if len(t.Tokens) == 0 {
			bad(p, "required: at least one operator token of tenant %q (or tokens_file, tokens_env)", t.ID)
		}
		for _, tok := range t.Tokens {
			if o, dup := owner[tok]; dup && o != p {
				bad(p, "a token of tenant %q is also one of %s: each token has one scope", t.ID, o)
			}
			owner[tok] = p
		}
	}
}
