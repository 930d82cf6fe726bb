package enrol

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

const profilesDir = "../../firmware-profiles"

// siteYAML is a gateway's site config with one energy meter per
// (name, lon) pair.
func siteYAML(id string, devices ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "gateway:\n  id: %s\nuplink:\n  broker: tcp://127.0.0.1:1883\n  password_file: /etc/ponte/uplink.password\ndevices:\n", id)
	for i, d := range devices {
		fmt.Fprintf(&b, "  - name: %s\n    profile: eastron-sdm630-v2\n    address: tcp://10.0.0.%d:502\n    unit: 1\n    location: {lon: 11.2%d, lat: 43.77}\n    area: Quartiere 1\n", d, i+2, i+1)
	}
	return b.String()
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func open(t *testing.T, dir string, c *clock, changes *[]Change, mod func(*Config)) *Registry {
	t.Helper()
	cfg := Config{Dir: dir, ProfilesDir: profilesDir, Now: c.now, Logger: slog.New(slog.DiscardHandler)}
	if changes != nil {
		cfg.OnChange = func(ch Change) { *changes = append(*changes, ch) }
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func status(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

func TestEnrolTokenOnceInScopeAndPersisted(t *testing.T) {
	dir := t.TempDir()
	c := &clock{time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)}
	var changes []Change
	r := open(t, dir, c, &changes, nil)

	tok, listed, err := r.IssueToken(Scope{Prefix: "fi-"}, 2*time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "pte1."+listed.ID+".") || listed.Hash != "" {
		t.Fatalf("token %q, listing %+v", tok, listed)
	}
	req := wire.EnrolRequest{File: "/etc/ponte/site.yaml", Site: siteYAML("fi-gw-1", "meter-a", "meter-b")}
	resp, err := r.Enrol(Enrolment{Token: tok, Request: req, Remote: "192.0.2.1:5000"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Gateway != "fi-gw-1" || resp.Username != "fi-gw-1" || len(resp.Password) < 40 || resp.Devices != 2 || resp.Rotated {
		t.Fatalf("response %+v", resp)
	}
	if len(changes) != 1 || changes[0].Gateway != "fi-gw-1" || len(changes[0].Site.Devices) != 2 || changes[0].Revoked || len(changes[0].PasswordHash) == 0 {
		t.Fatalf("changes %+v", changes)
	}
	// The same token again: used.
	_, err = r.Enrol(Enrolment{Token: tok, Request: req})
	if status(err) != http.StatusUnauthorized || !strings.Contains(err.Error(), "already used") || !strings.Contains(err.Error(), "fi-gw-1") {
		t.Fatalf("second use: %v", err)
	}
	// Another token, out of its scope; then a wrong secret; then expired.
	tok2, _, err := r.IssueToken(Scope{Gateway: "fi-gw-2"}, time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Enrol(Enrolment{Token: tok2, Request: wire.EnrolRequest{Site: siteYAML("fi-gw-3", "m")}}); status(err) != http.StatusForbidden || !strings.Contains(err.Error(), "gateway fi-gw-2") {
		t.Fatalf("out of scope: %v", err)
	}
	forged := tok2[:len(tok2)-4] + "AAAA"
	if _, err := r.Enrol(Enrolment{Token: forged, Request: wire.EnrolRequest{Site: siteYAML("fi-gw-2", "m")}}); status(err) != http.StatusUnauthorized || !strings.Contains(err.Error(), "unknown enrolment token") {
		t.Fatalf("wrong secret: %v", err)
	}
	c.t = c.t.Add(time.Hour)
	if _, err := r.Enrol(Enrolment{Token: tok2, Request: wire.EnrolRequest{Site: siteYAML("fi-gw-2", "m")}}); status(err) != http.StatusUnauthorized || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired: %v", err)
	}
	if len(changes) != 1 {
		t.Fatalf("a refused enrolment changed something: %+v", changes)
	}

	// Files: 0600 in a 0700 folder, no secret in the clear.
	for _, p := range []string{filepath.Join(dir, "registry.json"), filepath.Join(dir, "sites", "fi-gw-1.yaml")} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", p, fi.Mode(), err)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("registry folder mode %v", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "registry.json"))
	if strings.Contains(string(raw), resp.Password) || strings.Contains(string(raw), strings.Split(tok, ".")[2]) {
		t.Fatal("registry.json holds a password or a token secret in the clear")
	}

	// Reopened: the same gateway, its site, the token still used.
	r2 := open(t, dir, c, nil, nil)
	gws := r2.Gateways()
	if len(gws) != 1 || gws[0].ID != "fi-gw-1" || gws[0].Devices != 2 || gws[0].Bcrypt != "" {
		t.Fatalf("reopened gateways %+v", gws)
	}
	if c := r2.Changes(); len(c) != 1 || c[0].Site.Devices[1].Name != "meter-b" {
		t.Fatalf("reopened sites %+v", c)
	}
	if _, err := r2.Enrol(Enrolment{Token: tok, Request: req}); status(err) != http.StatusUnauthorized {
		t.Fatalf("used token after reopening: %v", err)
	}
}

func TestReEnrolRotatesAndRevoke(t *testing.T) {
	dir := t.TempDir()
	c := &clock{time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)}
	var changes []Change
	r := open(t, dir, c, &changes, nil)
	enrol := func(site string) wire.EnrolResponse {
		t.Helper()
		tok, _, err := r.IssueToken(Scope{Gateway: "fi-gw-1"}, 0, "test")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := r.Enrol(Enrolment{Token: tok, Request: wire.EnrolRequest{Site: site}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	first := enrol(siteYAML("fi-gw-1", "meter-a"))
	second := enrol(siteYAML("fi-gw-1", "meter-a", "meter-new"))
	if !second.Rotated || second.Password == first.Password || second.Devices != 2 {
		t.Fatalf("re-enrolment %+v", second)
	}
	if len(changes) != 2 || !changes[1].Rotated || len(changes[1].Site.Devices) != 2 || string(changes[1].PasswordHash) == string(changes[0].PasswordHash) {
		t.Fatalf("changes %+v", changes)
	}
	enrolledAt := c.t
	c.t = c.t.Add(time.Hour)
	if err := r.Revoke("fi-gw-1", "test"); err != nil {
		t.Fatal(err)
	}
	last := changes[len(changes)-1]
	if !changes[1].Since.Equal(enrolledAt) || !last.Since.Equal(c.t) {
		t.Fatalf("changes since %v and %v; want the enrolment's %v and the revocation's %v", changes[1].Since, last.Since, enrolledAt, c.t)
	}
	if !last.Revoked || last.PasswordHash != nil || last.Site == nil {
		t.Fatalf("revocation change %+v", last)
	}
	if err := r.Revoke("nobody", "test"); status(err) != http.StatusNotFound {
		t.Fatalf("revoking an unknown gateway: %v", err)
	}
	// Revoked stays revoked after a restart; a new token enrols it again.
	r = open(t, dir, c, &changes, nil)
	if g := r.Gateways(); g[0].Revoked == nil {
		t.Fatalf("revocation lost on reopening: %+v", g)
	}
	if third := enrol(siteYAML("fi-gw-1", "meter-a")); !third.Rotated {
		t.Fatalf("enrolment after revocation: %+v", third)
	}
	if g := r.Gateways(); g[0].Revoked != nil || g[0].Enrolments != 3 {
		t.Fatalf("after enrolling again: %+v", g)
	}
}

func TestEnrolRefusesBadSiteConfigs(t *testing.T) {
	c := &clock{time.Now()}
	r := open(t, t.TempDir(), c, nil, func(cfg *Config) {
		cfg.Check = func(id string) error {
			if id == "fi-static" {
				return errors.New("configured in ingest's file")
			}
			return nil
		}
	})
	cases := []struct {
		name, site, want string
		status           int
	}{
		{"unknown profile", strings.Replace(siteYAML("fi-a", "m"), "eastron-sdm630-v2", "no-such-profile", 1), "no-such-profile", http.StatusUnprocessableEntity},
		{"no location", strings.Replace(siteYAML("fi-a", "m"), "    location: {lon: 11.21, lat: 43.77}\n", "", 1), "location", http.StatusUnprocessableEntity},
		{"not YAML", "gateway: [", "site.yaml", http.StatusUnprocessableEntity},
		{"inline password", strings.Replace(siteYAML("fi-a", "m"), "password_file: /etc/ponte/uplink.password", "password: hunter2hunter2", 1), "uplink.password", http.StatusUnprocessableEntity},
		{"broker refuses the ID", siteYAML("fi-static", "m"), "configured in ingest's file", http.StatusConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok, _, err := r.IssueToken(Scope{Prefix: "fi-"}, 0, "test")
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Enrol(Enrolment{Token: tok, Request: wire.EnrolRequest{File: "site.yaml", Site: tc.site}})
			if status(err) != tc.status || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v (status %d), want status %d naming %q", err, status(err), tc.status, tc.want)
			}
			// The token was not spent by a refused enrolment.
			if _, err := r.Enrol(Enrolment{Token: tok, Request: wire.EnrolRequest{Site: siteYAML("fi-ok-"+strings.ReplaceAll(tc.name, " ", "-"), "m")}}); err != nil {
				t.Fatalf("the token after a refusal: %v", err)
			}
		})
	}
	if _, _, err := r.IssueToken(Scope{}, 0, "test"); status(err) != http.StatusBadRequest {
		t.Fatalf("token without scope: %v", err)
	}
	if _, _, err := r.IssueToken(Scope{Gateway: "a"}, 90*24*time.Hour, "test"); status(err) != http.StatusBadRequest {
		t.Fatalf("token valid for 90 days: %v", err)
	}
}

func TestTokenLimit(t *testing.T) {
	r := open(t, t.TempDir(), &clock{time.Now()}, nil, func(c *Config) { c.MaxPendingTokens = 2 })
	for i := range 2 {
		if _, _, err := r.IssueToken(Scope{Gateway: "g"}, 0, "test"); err != nil {
			t.Fatal(i, err)
		}
	}
	if _, _, err := r.IssueToken(Scope{Gateway: "g"}, 0, "test"); status(err) != http.StatusTooManyRequests {
		t.Fatalf("third token beyond the limit: %v", err)
	}
}

func TestCertificateFromCSR(t *testing.T) {
	dir := t.TempDir()
	caCert, caKey := testenv.Issue(t, nil, nil, "ponte enrolment CA", true)
	testenv.WriteCert(t, filepath.Join(dir, "ca.pem"), caCert)
	testenv.WriteKey(t, filepath.Join(dir, "ca.key"), caKey)
	ca, err := LoadCA(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key"), 0)
	if err != nil {
		t.Fatal(err)
	}
	r := open(t, filepath.Join(dir, "reg"), &clock{time.Now()}, nil, func(c *Config) { c.CA = ca })
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "someone-else"}}, key)
	csr := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	tok, _, _ := r.IssueToken(Scope{Gateway: "fi-gw-1"}, 0, "test")
	resp, err := r.Enrol(Enrolment{Token: tok, Request: wire.EnrolRequest{Site: siteYAML("fi-gw-1", "m"), CSR: csr}})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(resp.Certificate))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "fi-gw-1" {
		t.Fatalf("certificate CN %q, want the gateway ID whatever the CSR asked", cert.Subject.CommonName)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("certificate does not verify as a client certificate of the CA: %v", err)
	}
	if !r.CertOK("fi-gw-1", Serial(cert)) || r.CertOK("fi-gw-1", "1") || resp.CA == "" {
		t.Fatal("CertOK does not recognise the current certificate (or accepts another)")
	}
	if err := r.Revoke("fi-gw-1", "test"); err != nil || r.CertOK("fi-gw-1", Serial(cert)) {
		t.Fatalf("a revoked gateway's certificate is still current (%v)", err)
	}
	// A CSR whose signature does not match its key is refused.
	bad := []byte(csr)
	bad[len(bad)/2] ^= 1
	tok, _, _ = r.IssueToken(Scope{Gateway: "fi-gw-1"}, 0, "test")
	if _, err := r.Enrol(Enrolment{Token: tok, Request: wire.EnrolRequest{Site: siteYAML("fi-gw-1", "m"), CSR: string(bad)}}); status(err) != http.StatusUnprocessableEntity {
		t.Fatalf("tampered CSR: %v", err)
	}
}

func TestRetryOfTheSameAttemptGetsTheSameAnswer(t *testing.T) {
	dir := t.TempDir()
	c := &clock{time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)}
	r := open(t, dir, c, nil, nil)
	tok, _, _ := r.IssueToken(Scope{Gateway: "fi-gw-1"}, 0, "test")
	req := wire.EnrolRequest{Site: siteYAML("fi-gw-1", "m"), Attempt: "attempt-0123456789abcdef"}
	first, err := r.Enrol(Enrolment{Token: tok, Request: req})
	if err != nil {
		t.Fatal(err)
	}
	// The answer was lost; the client retries the same attempt, after a
	// restart of ingest.
	r = open(t, dir, c, nil, nil)
	again, err := r.Enrol(Enrolment{Token: tok, Request: req})
	if err != nil || again != first {
		t.Fatalf("retry: %+v, %v; want the first answer %+v", again, err, first)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "registry.json"))
	if strings.Contains(string(raw), first.Password) {
		t.Fatal("registry.json holds the password in the clear")
	}
	other := req
	other.Attempt = "another-attempt-0123456789"
	if _, err := r.Enrol(Enrolment{Token: tok, Request: other}); status(err) != http.StatusUnauthorized {
		t.Fatalf("another attempt with a used token: %v", err)
	}
	c.t = c.t.Add(2 * time.Hour)
	if _, err := r.Enrol(Enrolment{Token: tok, Request: req}); status(err) != http.StatusUnauthorized {
		t.Fatalf("the same attempt two hours later: %v", err)
	}
}
