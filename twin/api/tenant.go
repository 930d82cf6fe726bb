package api

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ponte-city/ponte/twin"
)

// Tenant is one organisation sharing the platform as the API serves it:
// its operator tokens see Scope only, and its public pages and open data
// are published under /t/{ID}/ with its Name and Licence.
type Tenant struct {
	// ID is the tenant's ID (twin.ValidTenantID).
	ID string
	// Name is how people read it ("Comune di Bitonto").
	Name string
	// Tokens are the tenant's operator tokens.
	Tokens []string
	// Scope is what the tenant sees (twin.Twin.Scope(ID)).
	Scope twin.Scope
	// Licence is its data's licence; the zero Licence takes Public's.
	Licence Licence
}

// tenantErrors checks the tenants: IDs, at least one token each, and no
// token shared between two scopes.
func tenantErrors(global []string, tenants []Tenant) []error {
	var errs []error
	owner := map[string]string{}
	for _, t := range global {
		owner[t] = "config.Tokens"
	}
	ids := map[string]bool{}
	for i, tn := range tenants {
		p := fmt.Sprintf("config.Tenants[%d] (%s)", i, tn.ID)
		if !twin.ValidTenantID(tn.ID) || ids[tn.ID] {
			errs = append(errs, fmt.Errorf("%s: ID: want a unique tenant ID (lower-case letters, digits, '-')", p))
		}
		ids[tn.ID] = true
		if len(tn.Tokens) == 0 {
			errs = append(errs, fmt.Errorf("%s: Tokens: at least one", p))
		}
		for j, t := range tn.Tokens {
			if t == "" || strings.ContainsAny(t, " \t\r\n") {
				errs = append(errs, fmt.Errorf("%s: Tokens[%d]: must be non-empty without white space", p, j))
			}
			if o, dup := owner[t]; dup {
				errs = append(errs, fmt.Errorf("%s: Tokens[%d]: also a token of %s; a token has one scope", p, j, o))
			}
			owner[t] = p
		}
		if tn.Licence != (Licence{}) && (tn.Licence.Name == "" || tn.Licence.URL == "") {
			errs = append(errs, fmt.Errorf("%s: Licence: name and URL, or neither", p))
		}
	}
	return errs
}

// errNoTenant is the error of a tenant the caller cannot see.
var errNoTenant = errors.New("no such tenant")
