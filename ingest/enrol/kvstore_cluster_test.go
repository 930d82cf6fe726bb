package enrol

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// recorder collects a registry's OnChange calls.
type recorder struct {
	mu sync.Mutex
	cs []Change
}

func (r *recorder) add(c Change) {
	r.mu.Lock()
	r.cs = append(r.cs, c)
	r.mu.Unlock()
}

// last returns the last change of gateway id (false if none).
func (r *recorder) last(id string) (Change, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.cs) - 1; i >= 0; i-- {
		if r.cs[i].Gateway == id {
			return r.cs[i], true
		}
	}
	return Change{}, false
}

// openKV opens a registry on the bucket through one node.
func openKV(t *testing.T, url, bucket string, rec *recorder, ca *CA) *Registry {
	t.Helper()
	cfg := Config{ProfilesDir: profilesDir, CA: ca, Logger: testenv.Logger(t, slog.LevelWarn),
		NATS: &KVConfig{URLs: []string{url}, Bucket: bucket, Timeout: 2 * time.Second}}
	if rec != nil {
		cfg.OnChange = rec.add
	}
	return openKVWith(t, cfg)
}

// openKVWith opens a registry with cfg, closed when t ends.
func openKVWith(t *testing.T, cfg Config) *Registry {
	t.Helper()
	r, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func gatewayOf(r *Registry, id string) (Gateway, bool) {
	for _, g := range r.Gateways() {
		if g.ID == id {
			return g, true
		}
	}
	return Gateway{}, false
}

func testCA(t *testing.T) *CA {
	dir := t.TempDir()
	caCert, caKey := testenv.Issue(t, nil, nil, "ponte enrolment CA", true)
	testenv.WriteCert(t, filepath.Join(dir, "ca.pem"), caCert)
	testenv.WriteKey(t, filepath.Join(dir, "ca.key"), caKey)
	ca, err := LoadCA(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key"), 0)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func testCSR(t *testing.T) string {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func serialOf(t *testing.T, certPEM string) string {
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		t.Fatal("no certificate in the answer")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return Serial(cert)
}

// TestKVRegistryAcrossInstances: two registries on different nodes of a
// three-node cluster share one bucket: a token issued on A enrols on B; a
// token sent to both at once enrols once (the other is refused, or with
// the same attempt answered the same); a revocation on B reaches A's
// CertOK and OnChange; a registry opened later holds the same gateways.
func TestKVRegistryAcrossInstances(t *testing.T) {
	c := natstest.Start(t, natstest.Options{Nodes: 3})
	ca := testCA(t)
	var recA, recB recorder
	a := openKV(t, c.Nodes[0].URL, "ponte-enrol", &recA, ca)
	b := openKV(t, c.Nodes[1].URL, "ponte-enrol", &recB, ca)

	t.Run("issued on A, enrolled on B", func(t *testing.T) {
		tok, _, err := a.IssueToken(Scope{Gateway: "fi-gw-1"}, 0, "test")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := b.Enrol(Enrolment{Token: tok, Request: wire.EnrolRequest{Site: siteYAML("fi-gw-1", "meter-a", "meter-b")}})
		if err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 30*time.Second, "A's OnChange with B's enrolment", func() bool {
			ch, ok := recA.last("fi-gw-1")
			return ok && len(ch.Site.Devices) == 2 && bcrypt.CompareHashAndPassword(ch.PasswordHash, []byte(resp.Password)) == nil
		})
		if g, ok := gatewayOf(a, "fi-gw-1"); !ok || g.Enrolments != 1 || g.Devices != 2 {
			t.Fatalf("A lists %+v", g)
		}
		// B saw its own enrolment once, though it also watched it.
		recB.mu.Lock()
		n := 0
		for _, ch := range recB.cs {
			if ch.Gateway == "fi-gw-1" {
				n++
			}
		}
		recB.mu.Unlock()
		if n != 1 {
			t.Fatalf("B's OnChange called %d times for one enrolment", n)
		}
		// The token is used on A too.
		if _, err := a.Enrol(Enrolment{Token: tok, Request: wire.EnrolRequest{Site: siteYAML("fi-gw-1", "m")}}); status(err) != http.StatusUnauthorized {
			t.Fatalf("the used token on A: %v", err)
		}
	})

	t.Run("one token at both at once", func(t *testing.T) {
		for round := range 6 {
			id := fmt.Sprintf("fi-race-%d", round)
			tok, _, err := a.IssueToken(Scope{Gateway: id}, 0, "test")
			if err != nil {
				t.Fatal(err)
			}
			// Odd rounds: the same attempt sent to both (a client retrying
			// on the other instance).
			attempt := ""
			if round%2 == 1 {
				attempt = fmt.Sprintf("attempt-%d-0123456789abcdef", round)
			}
			req := wire.EnrolRequest{Site: siteYAML(id, "m"), Attempt: attempt}
			var wg sync.WaitGroup
			resps := make([]wire.EnrolResponse, 2)
			errs := make([]error, 2)
			for i, r := range []*Registry{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resps[i], errs[i] = r.Enrol(Enrolment{Token: tok, Request: req})
				}()
			}
			wg.Wait()
			ok := 0
			for i, err := range errs {
				switch {
				case err == nil:
					ok++
				case status(err) == http.StatusUnauthorized && strings.Contains(err.Error(), "already used"):
				default:
					t.Fatalf("round %d, instance %d: %v", round, i, err)
				}
			}
			if attempt == "" && ok != 1 {
				t.Fatalf("round %d: %d enrolments with one token (%v)", round, ok, errs)
			}
			if attempt != "" && (ok != 2 || resps[0] != resps[1]) {
				t.Fatalf("round %d: the same attempt on two instances: %v; answers equal: %v", round, errs, resps[0] == resps[1])
			}
			var pw string
			for i := range resps {
				if errs[i] == nil {
					pw = resps[i].Password
				}
			}
			for _, r := range []*Registry{a, b} {
				testenv.Eventually(t, 30*time.Second, id+" enrolled once with the answered password", func() bool {
					g, found := gatewayOf(r, id)
					if !found || g.Enrolments != 1 {
						return false
					}
					for _, ch := range r.Changes() {
						if ch.Gateway == id {
							return bcrypt.CompareHashAndPassword(ch.PasswordHash, []byte(pw)) == nil
						}
					}
					return false
				})
			}
		}
	})

	t.Run("revoked on B, seen by A", func(t *testing.T) {
		tok, _, err := a.IssueToken(Scope{Gateway: "fi-cert-1"}, 0, "test")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := a.Enrol(Enrolment{Token: tok, Request: wire.EnrolRequest{Site: siteYAML("fi-cert-1", "m"), CSR: testCSR(t)}})
		if err != nil {
			t.Fatal(err)
		}
		serial := serialOf(t, resp.Certificate)
		if !a.CertOK("fi-cert-1", serial) {
			t.Fatal("A does not know its own certificate")
		}
		testenv.Eventually(t, 30*time.Second, "B knowing A's certificate", func() bool { return b.CertOK("fi-cert-1", serial) })
		if err := b.Revoke("fi-cert-1", "test"); err != nil {
			t.Fatal(err)
		}
		if b.CertOK("fi-cert-1", serial) {
			t.Fatal("B still takes the certificate it revoked")
		}
		testenv.Eventually(t, 30*time.Second, "A refusing the revoked certificate and told of it", func() bool {
			ch, ok := recA.last("fi-cert-1")
			return !a.CertOK("fi-cert-1", serial) && ok && ch.Revoked && ch.PasswordHash == nil && ch.Site != nil
		})
	})

	t.Run("a claim left pending is completed by the retry", func(t *testing.T) {
		// An instance claimed the token, then failed before writing the
		// gateway's record: done here by hand, as enrolOnce and enrol do.
		const id, attemptID, password = "fi-pending-1", "attempt-pending-0123456789", "the-password-answered-0123456789"
		tok, resp, tokID := claimPending(t, a, id, attemptID, password, time.Now())
		raw := []byte(siteYAML(id, "m"))
		s := a.store.(*kvStore)
		if _, ok := gatewayOf(b, id); ok {
			t.Fatal("a pending claim listed as enrolled")
		}
		// The gateway's retry of the same attempt, on the other instance.
		got, err := b.Enrol(Enrolment{Token: tok, Request: wire.EnrolRequest{Site: string(raw), Attempt: attemptID}})
		if err != nil || got != resp {
			t.Fatalf("retry: %+v, %v; want the claimed answer", got, err)
		}
		for _, r := range []*Registry{a, b} {
			testenv.Eventually(t, 30*time.Second, "the completed enrolment on every instance", func() bool {
				for _, ch := range r.Changes() {
					if ch.Gateway == id {
						return bcrypt.CompareHashAndPassword(ch.PasswordHash, []byte(password)) == nil
					}
				}
				return false
			})
		}
		if tk, _, _ := s.token(context.Background(), tokID); tk.Pending != nil {
			t.Fatal("the token's claim still pending after its completion")
		}
	})

	t.Run("a registry opened later", func(t *testing.T) {
		later := openKV(t, c.Nodes[2].URL, "ponte-enrol", nil, ca)
		want := a.Gateways()
		got := later.Gateways()
		if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != 9 {
			t.Fatalf("later registry lists\n%v\nA lists\n%v", got, want)
		}
		ca, cl := a.Changes(), later.Changes()
		for i := range cl {
			if cl[i].Gateway != ca[i].Gateway || cl[i].Revoked != ca[i].Revoked || string(cl[i].PasswordHash) != string(ca[i].PasswordHash) ||
				len(cl[i].Site.Devices) != len(ca[i].Site.Devices) {
				t.Fatalf("change %d: later %+v, A %+v", i, cl[i], ca[i])
			}
		}
		if len(later.Tokens()) != len(a.Tokens()) {
			t.Fatalf("later lists %d tokens, A %d", len(later.Tokens()), len(a.Tokens()))
		}
	})
}

// TestKVRegistryNodeKilled: two instances enrol gateways while the node
// one of them is connected to is killed with SIGKILL; every enrolment
// answered (after retries of the same attempt, as ponte-ctl makes them)
// is in the bucket with the answered password, as a registry opened
// afterwards reads it.
func TestKVRegistryNodeKilled(t *testing.T) {
	c := natstest.Start(t, natstest.Options{Nodes: 3})
	a := openKV(t, c.Nodes[0].URL, "ponte-enrol", nil, nil)
	b := openKV(t, c.Nodes[1].URL, "ponte-enrol", nil, nil)
	const perInstance = 12
	type acked struct{ id, password string }
	var mu sync.Mutex
	var done []acked
	var wg sync.WaitGroup
	killed := make(chan struct{})
	for i, r := range []*Registry{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perInstance {
				if n == perInstance/3 && i == 1 {
					c.Nodes[1].Kill() // B's node, while A goes on
					close(killed)
				}
				id := fmt.Sprintf("fi-kill-%d-%d", i, n)
				var tok string
				var err error
				for range 20 {
					if tok, _, err = r.IssueToken(Scope{Gateway: id}, 0, "test"); err == nil {
						break
					}
					time.Sleep(500 * time.Millisecond)
				}
				if err != nil {
					t.Errorf("%s: no token: %v", id, err)
					return
				}
				req := wire.EnrolRequest{Site: siteYAML(id, "m"), Attempt: "attempt-" + id + "-0123456789"}
				for range 20 {
					var resp wire.EnrolResponse
					if resp, err = r.Enrol(Enrolment{Token: tok, Request: req}); err == nil {
						mu.Lock()
						done = append(done, acked{id, resp.Password})
						mu.Unlock()
						break
					}
					time.Sleep(500 * time.Millisecond) // the client's backoff
				}
				if err != nil {
					t.Errorf("%s: not enrolled after retries: %v", id, err)
				}
			}
		}()
	}
	wg.Wait()
	<-killed
	c.Nodes[1].Start(t)
	if len(done) == 0 {
		t.Fatal("nothing enrolled")
	}
	later := openKV(t, c.Nodes[2].URL, "ponte-enrol", nil, nil)
	hashes := map[string][]byte{}
	for _, ch := range later.Changes() {
		hashes[ch.Gateway] = ch.PasswordHash
	}
	for _, d := range done {
		if bcrypt.CompareHashAndPassword(hashes[d.id], []byte(d.password)) != nil {
			t.Errorf("%s: answered, but the bucket does not hold its password", d.id)
		}
	}
	// Both instances' views followed every enrolment, B's across the
	// loss of its node.
	for name, r := range map[string]*Registry{"A": a, "B": b} {
		testenv.Eventually(t, time.Minute, name+"'s view of every answered enrolment", func() bool {
			hs := map[string][]byte{}
			for _, ch := range r.Changes() {
				hs[ch.Gateway] = ch.PasswordHash
			}
			for _, d := range done {
				if bcrypt.CompareHashAndPassword(hs[d.id], []byte(d.password)) != nil {
					return false
				}
			}
			return true
		})
	}
	t.Logf("%d enrolments answered across the kill, all in the bucket", len(done))
}
