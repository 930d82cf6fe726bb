package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

const testToken = "s3cret-operator-token"

// newTestServer starts the API over fake on a loopback httptest server;
// mod may change the config first.
func newTestServer(t testing.TB, fake *fakeReader, mod func(*Config)) (*httptest.Server, *API) {
	t.Helper()
	cfg := Config{Reader: fake, Tokens: []string{"other-token", testToken}, Registerer: prometheus.NewRegistry()}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv, a
}

// get sends a GET with the operator token (if tok is not "") and returns
// the response and its body.
func get(t testing.TB, url, tok string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	return do(t, http.MethodGet, url, tok, hdr)
}

func do(t testing.TB, method, url, tok string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp, b
}

// wantError checks a JSON error answer of status naming param.
func wantError(t testing.TB, resp *http.Response, body []byte, status int, param, contains string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e struct {
		Error     string `json:"error"`
		Parameter string `json:"parameter"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	if e.Parameter != param {
		t.Errorf("parameter %q, want %q (error %q)", e.Parameter, param, e.Error)
	}
	if !strings.Contains(e.Error, contains) {
		t.Errorf("error %q does not contain %q", e.Error, contains)
	}
}
