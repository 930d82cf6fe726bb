package enrol

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/wire"
)

// anyTenant is a CheckTenant that knows tenants bari and firenze.
func anyTenant(tenant, _ string, _ bool) error {
	if tenant != "bari" && tenant != "firenze" {
		return &Error{Status: http.StatusNotFound, Msg: "no tenant " + tenant}
	}
	return nil
}

func withShares(tokens, gateways int) func(*Config) {
	return func(c *Config) {
		c.CheckTenant = anyTenant
		c.MaxPendingTokensPerTenant, c.MaxGatewaysPerTenant = tokens, gateways
	}
}

func TestTenantTokenShare(t *testing.T) {
	r := open(t, t.TempDir(), &clock{time.Now()}, nil, withShares(2, 0))
	var bari []Token
	for i := range 2 {
		_, tk, err := r.IssueToken(Scope{Prefix: "ba-", Tenant: "bari"}, 0, "test")
		if err != nil {
			t.Fatal(i, err)
		}
		bari = append(bari, tk)
	}
	_, _, err := r.IssueToken(Scope{Prefix: "ba-", Tenant: "bari"}, 0, "test")
	if status(err) != http.StatusTooManyRequests || !strings.Contains(err.Error(), "tenant bari") || !strings.Contains(err.Error(), "enrolment.max_pending_tokens_per_tenant") {
		t.Fatalf("bari's third token: %v; want 429 naming the tenant and the limit", err)
	}
	if _, _, err := r.IssueToken(Scope{Prefix: "fi-", Tenant: "firenze"}, 0, "test"); err != nil {
		t.Fatalf("another tenant's token: %v", err)
	}
	for i := range 3 {
		if _, _, err := r.IssueToken(Scope{Gateway: "platform-gw"}, 0, "test"); err != nil {
			t.Fatalf("the platform's token %d: %v", i, err)
		}
	}
	// Revoking one of bari's makes room for another.
	if err := r.RevokeToken(bari[0].ID, "test", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.IssueToken(Scope{Prefix: "ba-", Tenant: "bari"}, 0, "test"); err != nil {
		t.Fatalf("bari's token after revoking one: %v", err)
	}
}

func TestRevokedTokenRefusedAndPersisted(t *testing.T) {
	dir := t.TempDir()
	c := &clock{time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)}
	r := open(t, dir, c, nil, nil)
	tok, listed, err := r.IssueToken(Scope{Gateway: "fi-gw-1"}, 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RevokeToken(listed.ID, "operator at test", func(Token) bool { return false }); status(err) != http.StatusNotFound {
		t.Fatalf("revoking a token the caller may not see: %v, want 404", err)
	}
	if err := r.RevokeToken("nosuchtoken0", "test", nil); status(err) != http.StatusNotFound {
		t.Fatalf("revoking an unknown token: %v, want 404", err)
	}
	c.t = c.t.Add(time.Minute)
	if err := r.RevokeToken(listed.ID, "operator at test", nil); err != nil {
		t.Fatal(err)
	}
	if err := r.RevokeToken(listed.ID, "operator at test", nil); err != nil {
		t.Fatalf("revoking again: %v, want a no-op", err)
	}
	// After a restart too.
	r = open(t, dir, c, nil, nil)
	toks := r.Tokens()
	if len(toks) != 1 || toks[0].Revoked == nil || toks[0].RevokedBy != "operator at test" || toks[0].Expires.After(c.t) {
		t.Fatalf("listing after a restart: %+v", toks)
	}
	_, err = r.Enrol(Enrolment{Token: tok, Request: wire.EnrolRequest{Site: siteYAML("fi-gw-1", "m")}})
	if status(err) != http.StatusUnauthorized || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("enrolment with a revoked token: %v; want 401 saying revoked", err)
	}
	if len(r.Gateways()) != 0 {
		t.Fatal("a revoked token enrolled a gateway")
	}
	// A used token is not revoked: its gateway is.
	tok2, l2, _ := r.IssueToken(Scope{Gateway: "fi-gw-1"}, 0, "test")
	if _, err := r.Enrol(Enrolment{Token: tok2, Request: wire.EnrolRequest{Site: siteYAML("fi-gw-1", "m")}}); err != nil {
		t.Fatal(err)
	}
	if err := r.RevokeToken(l2.ID, "test", nil); status(err) != http.StatusConflict || !strings.Contains(err.Error(), "revoke the gateway") {
		t.Fatalf("revoking a used token: %v, want 409", err)
	}
}

func TestTenantGatewayShare(t *testing.T) {
	r := open(t, t.TempDir(), &clock{time.Now()}, nil, withShares(0, 1))
	enrol := func(id string, scope Scope) error {
		tok, _, err := r.IssueToken(scope, 0, "test")
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Enrol(Enrolment{Token: tok, Request: wire.EnrolRequest{File: "site.yaml", Site: siteYAML(id, "m")}})
		return err
	}
	if err := enrol("ba-gw-1", Scope{Prefix: "ba-", Tenant: "bari"}); err != nil {
		t.Fatal(err)
	}
	err := enrol("ba-gw-2", Scope{Prefix: "ba-", Tenant: "bari"})
	if status(err) != http.StatusTooManyRequests || !strings.Contains(err.Error(), "tenant bari") || !strings.Contains(err.Error(), "enrolment.max_gateways_per_tenant") {
		t.Fatalf("bari's second gateway: %v; want 429 naming the tenant and the limit", err)
	}
	if err := enrol("ba-gw-1", Scope{Gateway: "ba-gw-1", Tenant: "bari"}); err != nil {
		t.Fatalf("bari's gateway enrolling again: %v", err)
	}
	if err := enrol("fi-gw-1", Scope{Prefix: "fi-", Tenant: "firenze"}); err != nil {
		t.Fatalf("another tenant's gateway: %v", err)
	}
	for _, id := range []string{"hub-1", "hub-2"} {
		if err := enrol(id, Scope{Gateway: id}); err != nil {
			t.Fatalf("the platform's gateway %s: %v", id, err)
		}
	}
	if n := len(r.Gateways()); n != 4 {
		t.Fatalf("%d gateways enrolled, want 4", n)
	}
}

func TestHTTPRevokeTokenByTenant(t *testing.T) {
	r := open(t, t.TempDir(), &clock{time.Now()}, nil, withShares(0, 0))
	// The caller acts for the tenant named in X-Tenant, or all without it.
	caller := func(req *http.Request) ([]string, bool) {
		if tn := req.Header.Get("X-Tenant"); tn != "" {
			return []string{tn}, false
		}
		return nil, true
	}
	mux := http.NewServeMux()
	Register(mux, HTTPConfig{Registry: r, Operator: func(h http.Handler) http.Handler { return h }, Caller: caller})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	revoke := func(id, tenant string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/enrolment/tokens/"+id+"/revoke", nil)
		if tenant != "" {
			req.Header.Set("X-Tenant", tenant)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	secret, bari, _ := r.IssueToken(Scope{Prefix: "ba-", Tenant: "bari"}, 0, "test")
	_, platform, _ := r.IssueToken(Scope{Gateway: "hub-1"}, 0, "test")
	if got := revoke(bari.ID, "firenze"); got != http.StatusNotFound {
		t.Fatalf("firenze revoking bari's token: %d, want 404", got)
	}
	if got := revoke(platform.ID, "bari"); got != http.StatusNotFound {
		t.Fatalf("bari revoking the platform's token: %d, want 404", got)
	}
	if got := revoke(bari.ID, "bari"); got != http.StatusOK {
		t.Fatalf("bari revoking its own token: %d, want 200", got)
	}
	if got := revoke(platform.ID, ""); got != http.StatusOK {
		t.Fatalf("the platform revoking its token: %d, want 200", got)
	}
	resp, out := do(t, http.MethodPost, srv.URL+wire.EnrolPath, secret, wire.EnrolRequest{Site: siteYAML("ba-gw-1", "m")})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(out["error"].(string), "revoked") {
		t.Fatalf("enrolment with the revoked token: %d %v", resp.StatusCode, out)
	}
	if i := slices.IndexFunc(r.Tokens(), func(t Token) bool { return t.Revoked == nil }); i >= 0 {
		t.Fatalf("token %+v not revoked", r.Tokens()[i])
	}
}

// TestKVRevokedTokenAcrossInstances revokes on one instance a token
// issued on another, and enrols with it on a third view of the bucket.
func TestKVRevokedTokenAcrossInstances(t *testing.T) {
	c := natstest.Start(t, natstest.Options{Nodes: 3})
	a := openKV(t, c.Nodes[0].URL, "ponte-enrol", nil, nil)
	b := openKV(t, c.Nodes[1].URL, "ponte-enrol", nil, nil)
	tok, listed, err := a.IssueToken(Scope{Gateway: "fi-gw-1"}, 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.RevokeToken(listed.ID, "operator on b", nil); err != nil {
		t.Fatal(err)
	}
	_, err = a.Enrol(Enrolment{Token: tok, Request: wire.EnrolRequest{Site: siteYAML("fi-gw-1", "m")}})
	if status(err) != http.StatusUnauthorized || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("enrolment on a with the token revoked on b: %v", err)
	}
}
