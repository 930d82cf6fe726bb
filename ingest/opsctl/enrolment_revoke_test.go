package opsctl

import (
	"bytes"
	"context"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/ingest/enrol"
)

// TestEnrolmentTokenRevoke runs ponte-ctl enrolment token-revoke against
// the registry's routes over HTTPS.
func TestEnrolmentTokenRevoke(t *testing.T) {
	dir := t.TempDir()
	reg, err := enrol.Open(enrol.Config{Dir: filepath.Join(dir, "reg"), ProfilesDir: "../../firmware-profiles", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	const opToken = "operator-token-0123456789"
	op := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+opToken {
				http.Error(w, `{"error":"operator token required"}`, http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	mux := http.NewServeMux()
	enrol.Register(mux, enrol.HTTPConfig{Registry: reg, Operator: op})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	caFile, tokFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "token")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokFile, []byte(opToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		args = append(args, "--url", srv.URL, "--ca", caFile, "--token-file", tokFile)
		code := Enrolment(context.Background(), Env{Stdout: &out, Stderr: &errb}, args)
		return code, out.String(), errb.String()
	}
	_, tk, err := reg.IssueToken(enrol.Scope{Gateway: "fi-gw-1"}, 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errs := run("token-revoke", tk.ID); code != ExitOK || !strings.Contains(out, "revoked token "+tk.ID) {
		t.Fatalf("token-revoke: exit %d\n%s%s", code, out, errs)
	}
	if toks := reg.Tokens(); len(toks) != 1 || toks[0].Revoked == nil {
		t.Fatalf("after token-revoke: %+v", toks)
	}
	if code, _, errs := run("token-revoke", "nosuchtoken0"); code != ExitFail || !strings.Contains(errs, "not known") {
		t.Fatalf("token-revoke of an unknown token: exit %d\n%s", code, errs)
	}
	if code, _, _ := run("token-revoke"); code != ExitUsage {
		t.Fatalf("token-revoke without an ID: exit %d, want %d", code, ExitUsage)
	}
}
