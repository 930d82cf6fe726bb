package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tenantsBase is a config with a twin, to which the cases add tenants.
const tenantsBase = "influx:\n  url: http://i:8086\ntwin:\n  areas: [../../geo/data/bari-metro-municipalities.geojson]\n  tokens: [city-operator-token-0001]\n"

// TestTenants: tenants are read with their tokens inline or from a file,
// and become the twin's tenants.
func TestTenants(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "bitonto.tokens")
	if err := os.WriteFile(tokens, []byte("# Bitonto's operators\nbitonto-operator-token-01\n\nbitonto-operator-token-02\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	y := tenantsBase + "tenants:\n" +
		"  - id: bari\n    name: Comune di Bari\n    areas: [\"072006\"]\n    gateway_prefixes: [ba-bari-]\n    tokens: [bari-operator-token-0001]\n" +
		"  - id: bitonto\n    name: Comune di Bitonto\n    areas: [Bitonto]\n    gateways: [ba-bitonto-1]\n    tokens_file: " + tokens + "\n" +
		"    licence:\n      name: IODL 2.0\n      url: https://www.dati.gov.it/iodl/2.0/\n      attribution: Comune di Bitonto\n"
	c, err := Parse("ok.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Tenants[1].Tokens; strings.Join(got, ",") != "bitonto-operator-token-01,bitonto-operator-token-02" {
		t.Errorf("bitonto's tokens from the file: %v", got)
	}
	tt := c.TwinTenants()
	if len(tt) != 2 || tt[0].ID != "bari" || tt[0].GatewayPrefixes[0] != "ba-bari-" || tt[1].Areas[0] != "Bitonto" || tt[1].Gateways[0] != "ba-bitonto-1" {
		t.Errorf("twin tenants: %+v", tt)
	}
}

// TestTenantErrors: each mistake names its line and field.
func TestTenantErrors(t *testing.T) {
	for _, c := range []struct {
		name, yaml, want string
	}{
		{"no twin", "influx:\n  url: http://i:8086\ntenants:\n  - id: bari\n    name: Bari\n    areas: [Bari]\n    tokens: [bari-operator-token-0001]\n",
			"bad.yaml:3: tenants: need a twin section"},
		{"bad id", tenantsBase + "tenants:\n  - id: Bari\n    name: Bari\n    areas: [Bari]\n    tokens: [bari-operator-token-0001]\n",
			`bad.yaml:7: tenants[0].id: "Bari": expected lower-case letters`},
		{"no name", tenantsBase + "tenants:\n  - id: bari\n    areas: [Bari]\n    tokens: [bari-operator-token-0001]\n",
			"tenants[0].name: required"},
		{"no tokens", tenantsBase + "tenants:\n  - id: bari\n    name: Bari\n    areas: [Bari]\n",
			`tenants[0].tokens: required: at least one operator token of tenant "bari"`},
		{"short token", tenantsBase + "tenants:\n  - id: bari\n    name: Bari\n    areas: [Bari]\n    tokens: [short]\n",
			"bad.yaml:10: tenants[0].tokens[0]: the token"},
		{"token of the city", tenantsBase + "tenants:\n  - id: bari\n    name: Bari\n    areas: [Bari]\n    tokens: [city-operator-token-0001]\n",
			`tenants[0].tokens: a token of tenant "bari" is also one of twin.tokens`},
		{"token of two tenants", tenantsBase + "tenants:\n  - id: bari\n    name: Bari\n    areas: [Bari]\n    tokens: [shared-operator-token-01]\n  - id: bitonto\n    name: Bitonto\n    areas: [Bitonto]\n    tokens: [shared-operator-token-01]\n",
			`bad.yaml:14: tenants[1].tokens: a token of tenant "bitonto" is also one of tenants[0].tokens`},
		{"gateway of two tenants", tenantsBase + "tenants:\n  - id: bari\n    name: Bari\n    gateway_prefixes: [ba-]\n    tokens: [bari-operator-token-0001]\n  - id: bitonto\n    name: Bitonto\n    gateways: [ba-bitonto-1]\n    tokens: [bitonto-operator-token-1]\n",
			`bad.yaml:13: tenants[1].gateways: "ba-bitonto-1" is claimed by tenant 0's prefix "ba-" too`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%v\nwant it to contain %q", err, c.want)
			}
		})
	}
}
