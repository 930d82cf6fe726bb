package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// TestSubscriptionsMount: the subscriptions' routes are behind the
// operator check; without Config.Subscriptions they answer 501
// OperationNotSupported; with it, the handler gets the caller's scope
// (SubscriptionScope), and an unknown NGSILD-Tenant or a foreign context
// is answered before it.
func TestSubscriptionsMount(t *testing.T) {
	routes := []struct{ method, path string }{
		{"POST", "/ngsi-ld/v1/subscriptions"}, {"GET", "/ngsi-ld/v1/subscriptions"},
		{"GET", "/ngsi-ld/v1/subscriptions/urn:x:1"}, {"PATCH", "/ngsi-ld/v1/subscriptions/urn:x:1"},
		{"DELETE", "/ngsi-ld/v1/subscriptions/urn:x:1"},
	}
	off, _ := newTestServer(t, newFakeReader(), nil)
	var got []twin.Scope
	on, _ := newTestServer(t, newFakeReader(), func(c *Config) {
		c.Subscriptions = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, ok := SubscriptionScope(r)
			if !ok {
				t.Error("no scope in the request")
			}
			got = append(got, s)
			w.WriteHeader(http.StatusTeapot)
		})
	})
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			if resp, _ := do(t, rt.method, on.URL+rt.path, "", nil); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("a stranger: %d, want 401", resp.StatusCode)
			}
			resp, body := do(t, rt.method, off.URL+rt.path, testToken, nil)
			if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(string(body), ngsild.ErrOperationNotSupported) ||
				!strings.Contains(string(body), "twin.ngsild.subscriptions") {
				t.Errorf("not configured: %d %s", resp.StatusCode, body)
			}
			got = nil
			if resp, _ := do(t, rt.method, on.URL+rt.path, testToken, nil); resp.StatusCode != http.StatusTeapot {
				t.Errorf("with a token: %d, want the handler's 418", resp.StatusCode)
			}
			if len(got) != 1 || !got[0].All() {
				t.Errorf("scopes given to the handler: %v, want the token's (all)", got)
			}
			resp, body = do(t, rt.method, on.URL+rt.path, testToken, map[string]string{TenantHeader: "comune-di-nowhere"})
			wantProblem(t, resp, body, http.StatusNotFound, ngsild.ErrNonexistentTenant, TenantHeader)
			resp, body = do(t, rt.method, on.URL+rt.path, testToken,
				map[string]string{"Link": `<https://example.org/ctx.jsonld>; rel="http://www.w3.org/ns/json-ld#context"`})
			wantProblem(t, resp, body, http.StatusBadRequest, ngsild.ErrLdContextNotAvailable, "Link")
			if len(got) != 1 {
				t.Errorf("the handler was called %d times, want once", len(got))
			}
		})
	}
}
