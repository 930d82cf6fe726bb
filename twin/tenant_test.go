package twin

import (
	"strings"
	"testing"
)

// tenantsFixture: Bari's municipality with its gateways by prefix, Firenze
// with one gateway by ID and its districts, Fiesole by name.
func tenantsFixture() []Tenant {
	return []Tenant{
		{ID: "bari", Name: "Comune di Bari", Areas: []string{"072006"}, GatewayPrefixes: []string{"ba-"}},
		{ID: "firenze", Name: "Comune di Firenze", Areas: []string{"048017"}, Gateways: []string{"gw-fi"}},
		{ID: "fiesole", Name: "Comune di Fiesole", Areas: []string{"Fiesole"}, Gateways: []string{"gw-fiesole"}},
	}
}

// TestTenantScopes: a tenant's scope sees its gateways' sites and
// gateways, its municipality and the districts and roads inside it, and
// nothing of another tenant; two tenants see both; AllScope sees all; the
// zero Scope nothing.
func TestTenantScopes(t *testing.T) {
	sites := []Site{
		siteAt("gw-fi", "noise-a", "noise", duomo),
		siteAt("gw-fiesole", "noise-b", "noise", fiesole),
		siteAt("ba-murat", "air-1", "air", aldoMoro),
		siteAt("gw-loose", "air-2", "air", cavourBari), // in Bari, but no tenant's gateway
	}
	tw, _ := newTwin(t, sites, func(c *Config) {
		c.AreaLevels = []AreaLayer{{Level: LevelDistrict, Layer: districtFixture(t)}}
		c.Tenants = tenantsFixture()
	})
	bari, err := tw.Scope("bari")
	if err != nil {
		t.Fatal(err)
	}
	firenze, err := tw.Scope("firenze")
	if err != nil {
		t.Fatal(err)
	}
	both, err := tw.Scope("fiesole", "firenze")
	if err != nil {
		t.Fatal(err)
	}
	sees := func(s Scope) map[string]bool {
		out := map[string]bool{}
		for _, e := range tw.Entities(Filter{}) {
			if s.Visible(&e) {
				out[e.ID] = true
			}
		}
		return out
	}
	vb, vf, v2 := sees(bari), sees(firenze), sees(both)
	id := func(dev string) string { return siteEntityID(t, tw, dev) }
	for _, c := range []struct {
		name string
		got  map[string]bool
		want []string
		not  []string
	}{
		{"bari", vb, []string{id("air-1"), GatewayEntityID("ba-murat"), "072006"},
			[]string{id("noise-a"), id("noise-b"), id("air-2"), GatewayEntityID("gw-fi"), GatewayEntityID("gw-loose"), "048017", "FI-04"}},
		{"firenze", vf, []string{id("noise-a"), GatewayEntityID("gw-fi"), "048017", "FI-04"},
			[]string{id("air-1"), id("noise-b"), GatewayEntityID("gw-fiesole"), "072006", "048015"}},
		{"firenze+fiesole", v2, []string{id("noise-a"), id("noise-b"), "048017", "048015", "FI-04"},
			[]string{id("air-1"), "072006"}},
	} {
		for _, w := range c.want {
			if !c.got[w] {
				t.Errorf("%s: does not see %s", c.name, w)
			}
		}
		for _, n := range c.not {
			if c.got[n] {
				t.Errorf("%s: sees %s", c.name, n)
			}
		}
	}
	// The road fixture has roads in both cities (IDs BA-* in Bari).
	roads := map[string]int{}
	for _, e := range tw.Entities(Filter{Types: []string{string(KindRoad)}}) {
		inBari := strings.HasPrefix(e.ID, "BA-")
		if vb[e.ID] != inBari || vf[e.ID] && inBari {
			t.Errorf("road %s (%s): bari sees it %v, firenze %v", e.ID, e.Name, vb[e.ID], vf[e.ID])
		}
		if vb[e.ID] {
			roads["bari"]++
		}
		if vf[e.ID] {
			roads["firenze"]++
		}
	}
	if roads["bari"] == 0 || roads["firenze"] == 0 {
		t.Errorf("roads seen: %v, want some in each city", roads)
	}
	if got := both.Tenants(); strings.Join(got, ",") != "fiesole,firenze" || both.Key() != "fiesole,firenze" {
		t.Errorf("tenants %v key %q", got, both.Key())
	}
	if len(sees(Scope{})) != 0 {
		t.Error("the zero scope sees something")
	}
	if len(sees(AllScope())) != len(tw.Entities(Filter{})) || AllScope().Key() != "*" {
		t.Error("AllScope does not see everything")
	}
	if _, err := tw.Scope("bari", "roma"); err == nil || !strings.Contains(err.Error(), `"roma"`) {
		t.Errorf("unknown tenant: %v", err)
	}
	if tw.TenantOf("ba-new-gateway") != "bari" || tw.TenantOf("gw-fi") != "firenze" || tw.TenantOf("gw-loose") != "" {
		t.Errorf("TenantOf: %q %q %q", tw.TenantOf("ba-new-gateway"), tw.TenantOf("gw-fi"), tw.TenantOf("gw-loose"))
	}
}

// TestTenantConfigErrors: each mistake is refused naming the tenant and
// the field.
func TestTenantConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name    string
		tenants []Tenant
		want    string
	}{
		{"bad id", []Tenant{{ID: "Bari!", Name: "x", Areas: []string{"072006"}}}, `tenants[0] (Bari!): id: "Bari!"`},
		{"no name", []Tenant{{ID: "bari", Areas: []string{"072006"}}}, "tenants[0] (bari): name: required"},
		{"empty", []Tenant{{ID: "bari", Name: "Bari"}}, "needs at least one area or gateway"},
		{"twice", []Tenant{{ID: "bari", Name: "a", Areas: []string{"072006"}}, {ID: "bari", Name: "b", Areas: []string{"072006"}}}, `tenants[1] (bari): id: "bari" is also tenant 0's`},
		{"gateway twice", []Tenant{{ID: "a", Name: "a", Gateways: []string{"gw1"}}, {ID: "b", Name: "b", Gateways: []string{"gw1"}}}, `tenants[1] (b): gateways: "gw1" is already tenant 0's`},
		{"prefixes overlap", []Tenant{{ID: "a", Name: "a", GatewayPrefixes: []string{"ba-"}}, {ID: "b", Name: "b", GatewayPrefixes: []string{"ba-bit"}}}, `tenants[1] (b): gateway_prefixes: "ba-bit" overlaps tenant 0's "ba-"`},
		{"id under prefix", []Tenant{{ID: "a", Name: "a", GatewayPrefixes: []string{"ba-"}}, {ID: "b", Name: "b", Gateways: []string{"ba-1"}}}, `tenants[1] (b): gateways: "ba-1" is claimed by tenant 0's prefix "ba-" too`},
		{"empty prefix", []Tenant{{ID: "a", Name: "a", GatewayPrefixes: []string{""}}}, "an empty prefix would claim every gateway"},
		{"reserved", []Tenant{{ID: "all", Name: "a", Gateways: []string{"g"}}}, `tenants[0] (all): id: "all" is reserved`},
		{"unknown area", []Tenant{{ID: "a", Name: "a", Areas: []string{"Atlantide"}}}, `tenants[0] (a): area "Atlantide": no area has this ID or name`},
	} {
		cfg := Config{Areas: metroAreas(t), Tenants: c.tenants, Logger: quietLogger()}
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

// TestGatewayTenantFromRegistry: a gateway the enrolment registry puts in
// a tenant is seen by that tenant's scopes at once, including scopes made
// before; the configuration's claims win; CheckTenantClaim refuses what
// they would contradict.
func TestGatewayTenantFromRegistry(t *testing.T) {
	sites := []Site{siteAt("gw-fi", "noise-a", "noise", duomo), siteAt("gw-loose", "air-2", "air", cavourBari)}
	tw, _ := newTwin(t, sites, func(c *Config) { c.Tenants = tenantsFixture() })
	bari, err := tw.Scope("bari")
	if err != nil {
		t.Fatal(err)
	}
	loose, _ := tw.Entity(siteEntityID(t, tw, "air-2"))
	if bari.Visible(&loose) || tw.TenantOf("gw-loose") != "" {
		t.Fatal("bari sees an unassigned gateway's site")
	}
	tw.SetGatewayTenant("gw-loose", "bari")
	if !bari.Visible(&loose) || tw.TenantOf("gw-loose") != "bari" {
		t.Error("bari does not see the gateway the registry gave it")
	}
	firenze, _ := tw.Scope("firenze")
	if firenze.Visible(&loose) {
		t.Error("firenze sees bari's enrolled gateway")
	}
	tw.SetGatewayTenant("gw-fi", "bari") // the configuration gives it to firenze
	if tw.TenantOf("gw-fi") != "firenze" || bari.Gateway("gw-fi") {
		t.Error("the registry took a configured gateway from its tenant")
	}
	tw.SetGatewayTenant("gw-loose", "")
	if bari.Visible(&loose) {
		t.Error("bari still sees the gateway after its assignment was removed")
	}
	tw.SetGatewayTenant("gw-loose", "bari")
	for _, c := range []struct {
		tenant, id string
		prefix     bool
		want       string
	}{
		{"bari", "ba-new", false, ""},
		{"bari", "ba-", true, ""},
		{"roma", "x", false, `no tenant "roma"`},
		{"bari", "gw-fi", false, "gateway gw-fi is tenant firenze's"},
		{"bari", "gw-", true, "gateway gw-fi is tenant firenze's"},
		{"firenze", "ba-1", false, "gateways ba-* are tenant bari's"},
		{"firenze", "b", true, "gateways ba-* are tenant bari's"},
		{"firenze", "gw-loose", false, "gateway gw-loose is tenant bari's (enrolled)"},
		{"firenze", "gw-l", true, "gateway gw-loose is tenant bari's (enrolled)"},
		{"bari", "gw-loose", false, ""},
	} {
		err := tw.CheckTenantClaim(c.tenant, c.id, c.prefix)
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckTenantClaim(%s, %s, %v) = %v, want %q", c.tenant, c.id, c.prefix, err, c.want)
		}
	}
}
