package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ponte-city/ponte/wire"
)

// A stand-in for ingest's enrolment route (the real one is exercised by
// e2e/system TestEnrolmentEndToEnd): it fails as told, then answers.
func fakeIngest(t *testing.T, fail []int) (*httptest.Server, string, *atomic.Int32, *[]wire.EnrolRequest) {
	t.Helper()
	var n atomic.Int32
	var reqs []wire.EnrolRequest
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		var req wire.EnrolRequest
		json.NewDecoder(r.Body).Decode(&req)
		reqs = append(reqs, req)
		if r.URL.Path != wire.EnrolPath || r.Header.Get("Authorization") != "Bearer pte1.test" {
			http.Error(w, `{"error":"wrong route or token"}`, http.StatusBadRequest)
			return
		}
		if i < len(fail) {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(fail[i])
			w.Write([]byte(`{"error":"enrolment token abc was already used"}`))
			return
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(wire.EnrolResponse{Gateway: "fi-test-01", Username: "fi-test-01", Password: "s3cret-from-ingest", Devices: 1})
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv, ca, &n, &reqs
}

// enrolSite writes a site config with a password file and a token file.
func enrolSite(t *testing.T) (site, pwFile, tokFile string) {
	t.Helper()
	dir := t.TempDir()
	pwFile, tokFile, site = filepath.Join(dir, "uplink.password"), filepath.Join(dir, "token"), filepath.Join(dir, "site.yaml")
	y := "gateway:\n  id: fi-test-01\nuplink:\n  broker: tcp://127.0.0.1:1883\n  password_file: " + pwFile +
		"\ndevices:\n  - name: m\n    profile: eastron-sdm630-v2\n    address: tcp://10.0.0.2:502\n    unit: 1\n    location: {lon: 11.25, lat: 43.77}\n"
	for p, data := range map[string]string{site: y, tokFile: "pte1.test\n"} {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return site, pwFile, tokFile
}

func runCtl(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), Env{Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestEnrollRetriesOverABadLinkAsOneAttempt(t *testing.T) {
	srv, ca, n, reqs := fakeIngest(t, []int{http.StatusServiceUnavailable, http.StatusBadGateway})
	site, pwFile, tok := enrolSite(t)
	code, out, errOut := runCtl("enroll", site, "--url", srv.URL, "--ca", ca, "--token-file", tok, "--profiles", "../../firmware-profiles")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if n.Load() != 3 || !strings.Contains(errOut, "attempt 1: ingest answered 503") || !strings.Contains(errOut, "attempt 2: ingest answered 502") {
		t.Fatalf("%d requests; stderr:\n%s", n.Load(), errOut)
	}
	if a := *reqs; a[0].Attempt == "" || a[0].Attempt != a[2].Attempt || !strings.Contains(a[0].Site, "fi-test-01") {
		t.Fatalf("the retries are not one attempt with the site config: %+v", a)
	}
	data, err := os.ReadFile(pwFile)
	fi, _ := os.Stat(pwFile)
	if err != nil || string(data) != "s3cret-from-ingest\n" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file %q mode %v: %v", data, fi.Mode().Perm(), err)
	}
	if !strings.Contains(out, "enrolled gateway fi-test-01") || !strings.Contains(out, "next: start the agent") {
		t.Fatalf("stdout:\n%s", out)
	}
}

func TestEnrollStopsOnARefusal(t *testing.T) {
	srv, ca, n, _ := fakeIngest(t, []int{http.StatusUnauthorized, http.StatusUnauthorized})
	site, pwFile, tok := enrolSite(t)
	code, _, errOut := runCtl("enroll", site, "--url", srv.URL, "--ca", ca, "--token-file", tok, "--profiles", "../../firmware-profiles")
	if code != ExitFail || n.Load() != 1 || !strings.Contains(errOut, "already used") {
		t.Fatalf("exit %d after %d requests:\n%s", code, n.Load(), errOut)
	}
	if _, err := os.Stat(pwFile); err == nil {
		t.Fatal("a refused enrolment wrote a password file")
	}
}

func TestEnrollRefusesWhatItCannotDoSafely(t *testing.T) {
	srv, ca, n, _ := fakeIngest(t, nil)
	site, _, tok := enrolSite(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"enroll", site, "--url", strings.Replace(srv.URL, "https", "http", 1), "--token-file", tok}, "only https://"},
		{[]string{"enroll", site, "--url", srv.URL, "--token-file", tok, "--profiles", "../../firmware-profiles"}, "certificate"}, // no --ca: not trusted
		{[]string{"enroll", site, "--url", srv.URL, "--ca", ca, "--profiles", "../../firmware-profiles"}, "no enrolment token"},
		{[]string{"enroll", site, "--url", srv.URL, "--ca", ca, "--token-file", tok, "--csr", "--profiles", "../../firmware-profiles"}, "uplink.tls.cert"},
		{[]string{"enroll", site, "--url", srv.URL, "--ca", ca, "--token-file", tok, "--profiles", t.TempDir()}, "not valid"},
	}
	t.Setenv(EnrolTokenEnv, "")
	for _, tc := range cases {
		code, _, errOut := runCtl(tc.args...)
		if code == ExitOK || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want a refusal naming %q", tc.args[2:], code, errOut, tc.want)
		}
	}
	if n.Load() != 0 {
		t.Fatalf("%d requests reached ingest; want none", n.Load())
	}
}
