package enrol

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/internal/throttle"
	"github.com/ponte-city/ponte/wire"
)

const opToken = "operator-token-0123456789"

// server serves the routes with a stand-in operator check (ingest's own
// is tested in ingest/app) and a throttle of 3 failures per address.
func server(t *testing.T, c *clock) (*httptest.Server, *Registry) {
	t.Helper()
	r := open(t, t.TempDir(), c, nil, nil)
	guard, err := throttle.New(throttle.Config{Listener: ListenerEnrol, Burst: 3, Refill: time.Hour, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	op := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Header.Get("Authorization") != "Bearer "+opToken {
				http.Error(w, "operator token required", http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, req)
		})
	}
	mux := http.NewServeMux()
	Register(mux, HTTPConfig{Registry: r, Operator: op, Guard: guard})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, r
}

func do(t *testing.T, method, url, auth string, body any) (*http.Response, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, url, rd)
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func TestHTTPStrangersRefused(t *testing.T) {
	srv, _ := server(t, &clock{time.Now()})
	for _, route := range []struct{ method, path string }{
		{http.MethodPost, "/api/v1/enrolment/tokens"},
		{http.MethodGet, "/api/v1/enrolment/tokens"},
		{http.MethodGet, "/api/v1/enrolment/gateways"},
		{http.MethodPost, "/api/v1/enrolment/gateways/fi-gw-1/revoke"},
	} {
		for _, auth := range []string{"", "not-the-operator-token"} {
			if resp, _ := do(t, route.method, srv.URL+route.path, auth, TokenRequest{Gateway: "fi-gw-1"}); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s with %q: %d, want 401", route.method, route.path, auth, resp.StatusCode)
			}
		}
	}
	// An operator token is not an enrolment token.
	if resp, _ := do(t, http.MethodPost, srv.URL+wire.EnrolPath, opToken, wire.EnrolRequest{Site: siteYAML("fi-gw-1", "m")}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("enrolment with the operator's token: %d, want 401", resp.StatusCode)
	}
	if resp, _ := do(t, http.MethodPost, srv.URL+wire.EnrolPath, "", wire.EnrolRequest{Site: siteYAML("fi-gw-1", "m")}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("enrolment without a token: %d, want 401", resp.StatusCode)
	}
}

func TestHTTPEnrolExpiredUsedTooBigAndThrottled(t *testing.T) {
	c := &clock{time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)}
	srv, _ := server(t, c)
	resp, tok := do(t, http.MethodPost, srv.URL+"/api/v1/enrolment/tokens", opToken, TokenRequest{Gateway: "fi-gw-1", TTL: "10m"})
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(tok["token"].(string), "pte1.") || tok["hash"] != nil {
		t.Fatalf("issue: %d %v", resp.StatusCode, tok)
	}
	secret := tok["token"].(string)
	req := wire.EnrolRequest{File: "site.yaml", Site: siteYAML("fi-gw-1", "m")}

	// Too big: 413, and the token is not spent.
	huge := bytes.Repeat([]byte("x"), wire.MaxEnrolBytes+10)
	if resp, _ := do(t, http.MethodPost, srv.URL+wire.EnrolPath, secret, append([]byte(`{"site":"`), huge...)); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized request: %d, want 413", resp.StatusCode)
	}
	resp, out := do(t, http.MethodPost, srv.URL+wire.EnrolPath, secret, req)
	if resp.StatusCode != http.StatusCreated || out["password"] == "" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("enrol: %d %v", resp.StatusCode, out)
	}
	resp, out = do(t, http.MethodPost, srv.URL+wire.EnrolPath, secret, req)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(out["error"].(string), "already used") {
		t.Fatalf("used token: %d %v", resp.StatusCode, out)
	}

	_, tok = do(t, http.MethodPost, srv.URL+"/api/v1/enrolment/tokens", opToken, TokenRequest{Gateway: "fi-gw-1", TTL: "10m"})
	c.t = c.t.Add(11 * time.Minute)
	resp, out = do(t, http.MethodPost, srv.URL+wire.EnrolPath, tok["token"].(string), req)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(out["error"].(string), "expired") {
		t.Fatalf("expired token: %d %v", resp.StatusCode, out)
	}
	// Two failures spent above, one more: then 429 without a look.
	do(t, http.MethodPost, srv.URL+wire.EnrolPath, "pte1.000000000000.guessguessguessguessguessguessguessguess", req)
	resp, _ = do(t, http.MethodPost, srv.URL+wire.EnrolPath, "pte1.000000000000.guessguessguessguessguessguessguessguess", req)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after three failed tokens: %d, want 429 with Retry-After", resp.StatusCode)
	}

	resp, out = do(t, http.MethodGet, srv.URL+"/api/v1/enrolment/gateways", opToken, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(mustJSON(out), `"id":"fi-gw-1"`) || strings.Contains(mustJSON(out), "bcrypt") {
		t.Fatalf("gateways: %d %v", resp.StatusCode, out)
	}
	if resp, _ := do(t, http.MethodPost, srv.URL+"/api/v1/enrolment/gateways/nobody/revoke", opToken, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("revoking an unknown gateway: %d", resp.StatusCode)
	}
	if resp, _ := do(t, http.MethodPost, srv.URL+"/api/v1/enrolment/tokens", opToken, []byte(`{"gateway":"a","ttl":"forever"}`)); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a bad ttl: %d", resp.StatusCode)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func FuzzParseToken(f *testing.F) {
	_, tok, _ := newToken()
	f.Add(tok)
	f.Add("pte1..")
	f.Add("pte1.zzzzzzzzzzzz." + strings.Repeat("a", 43))
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, ok := parseToken(s)
		if ok && (len(id) != 12 || len(secret) < 32) {
			t.Fatalf("accepted %q as id %q secret %q", s, id, secret)
		}
	})
}
