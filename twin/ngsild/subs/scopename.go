package subs

import (
	"strings"

	"github.com/ponte-city/ponte/twin"
)

// scopeName names a scope in a refusal: the platform, or its tenants.
func scopeName(s twin.Scope) string {
	if s.All() {
		return "the platform's scope"
	}
	ts := s.Tenants()
	if len(ts) == 1 {
		return "tenant " + ts[0]
	}
	return "tenants " + strings.Join(ts, ",")
}
