package enrol

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// claimPending issues a token on r for gateway id and claims it as an
// instance whose clock says now would have, then failed before writing
// the gateway's record (enrolOnce and kvStore.enrol, by hand): the claim
// carries the record with password and the answer sealed for a retry of
// attempt. It returns the token, that answer and the token's ID.
func claimPending(t *testing.T, r *Registry, id, attempt, password string, now time.Time) (string, wire.EnrolResponse, string) {
	t.Helper()
	ctx := context.Background()
	tok, listed, err := r.IssueToken(Scope{Gateway: id}, 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _ := parseToken(tok)
	s := r.store.(*kvStore)
	tk, rev, err := s.token(ctx, listed.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte(siteYAML(id, "m"))
	bh, _ := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	now = now.UTC()
	resp := wire.EnrolResponse{Gateway: id, Username: id, Password: password, Devices: 1}
	g := &Gateway{ID: id, Enrolled: now, Updated: now, Enrolments: 1, Token: tk.ID, Devices: 1, Bcrypt: string(bh), SiteHash: siteHash(raw)}
	if _, err := s.kv.Put(ctx, kvSiteKey(id, g.SiteHash), raw); err != nil {
		t.Fatal(err)
	}
	claim := *tk
	claim.Used, claim.UsedBy, claim.Pending = &now, id, g
	claim.Answer, claim.AttemptHash = seal(resp, secret), hashSecret(attempt)
	if _, err := s.putToken(ctx, &claim, rev); err != nil {
		t.Fatal(err)
	}
	return tok, resp, tk.ID
}

// bucketHolds fails t unless the gateway's record in the bucket (read
// from the stream's leader) takes password.
func bucketHolds(t *testing.T, r *Registry, id, password, what string) {
	t.Helper()
	g, _, err := r.store.gateway(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if g == nil || g.Revoked != nil || bcrypt.CompareHashAndPassword([]byte(g.Bcrypt), []byte(password)) != nil {
		t.Fatalf("%s: the bucket's record of %s does not take %s's password (%+v)", what, id, what, g)
	}
}

// TestKVRegistryClockSkew: two instances on a three-node cluster whose
// clocks disagree by an hour (B's is slow). Enrolments of one gateway are
// ordered by the bucket, not by the clocks: a rotation through B, after
// one through A, is recorded with the password B answered; an enrolment
// overtaken by a later one (or by a revocation) before its record was
// written is refused with 409, never answered with a password the bucket
// does not hold.
func TestKVRegistryClockSkew(t *testing.T) {
	c := natstest.Start(t, natstest.Options{Nodes: 3})
	open := func(url string, skew time.Duration) *Registry {
		return openKVWith(t, Config{ProfilesDir: profilesDir, Logger: testenv.Logger(t, slog.LevelWarn),
			Now:  func() time.Time { return time.Now().Add(skew) },
			NATS: &KVConfig{URLs: []string{url}, Bucket: "ponte-enrol", Timeout: 2 * time.Second}})
	}
	a := open(c.Nodes[0].URL, 0)
	b := open(c.Nodes[1].URL, -time.Hour)
	enrol := func(r *Registry, id, attempt string) (wire.EnrolResponse, error) {
		tok, _, err := a.IssueToken(Scope{Gateway: id}, 0, "test")
		if err != nil {
			t.Fatal(err)
		}
		return r.Enrol(Enrolment{Token: tok, Request: wire.EnrolRequest{Site: siteYAML(id, "m"), Attempt: attempt}})
	}

	t.Run("rotated through the slower clock", func(t *testing.T) {
		const id = "fi-skew-1"
		first, err := enrol(a, id, "")
		if err != nil {
			t.Fatal(err)
		}
		bucketHolds(t, a, id, first.Password, "A's enrolment")
		testenv.Eventually(t, 30*time.Second, "B seeing A's enrolment", func() bool { _, ok := gatewayOf(b, id); return ok })
		rotated, err := enrol(b, id, "")
		if err != nil {
			t.Fatal(err)
		}
		if !rotated.Rotated || rotated.Password == first.Password {
			t.Fatalf("B's answer %+v; want a rotation with a new password", rotated)
		}
		bucketHolds(t, b, id, rotated.Password, "B's rotation")
		testenv.Eventually(t, 30*time.Second, "A's view with B's password", func() bool {
			for _, ch := range a.Changes() {
				if ch.Gateway == id {
					return bcrypt.CompareHashAndPassword(ch.PasswordHash, []byte(rotated.Password)) == nil
				}
			}
			return false
		})
	})

	t.Run("overtaken by a later enrolment", func(t *testing.T) {
		// A's enrolment is claimed and left pending; B enrols the gateway
		// again with another token (a later claim, an earlier clock);
		// then A's retry of the first attempt completes it: too late.
		const id, attempt = "fi-skew-2", "attempt-skew-2-0123456789"
		tok, _, _ := claimPending(t, a, id, attempt, "the-overtaken-password-0123456789", time.Now())
		later, err := enrol(b, id, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []*Registry{a, b} {
			_, err = r.Enrol(Enrolment{Token: tok, Request: wire.EnrolRequest{Site: siteYAML(id, "m"), Attempt: attempt}})
			if status(err) != http.StatusConflict || !strings.Contains(err.Error(), "enrolled again") {
				t.Fatalf("the overtaken enrolment's retry: %v; want 409, enrolled again", err)
			}
		}
		bucketHolds(t, a, id, later.Password, "the later enrolment")
	})

	t.Run("overtaken by a revocation", func(t *testing.T) {
		const id, attempt = "fi-skew-3", "attempt-skew-3-0123456789"
		if _, err := enrol(a, id, ""); err != nil {
			t.Fatal(err)
		}
		tok, _, _ := claimPending(t, b, id, attempt, "the-revoked-password-0123456789", time.Now().Add(time.Hour))
		if err := a.Revoke(id, "operator"); err != nil {
			t.Fatal(err)
		}
		_, err := b.Enrol(Enrolment{Token: tok, Request: wire.EnrolRequest{Site: siteYAML(id, "m"), Attempt: attempt}})
		if status(err) != http.StatusConflict || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("the retry of an enrolment revoked meanwhile: %v; want 409, revoked", err)
		}
		if g, _, _ := b.store.gateway(context.Background(), id); g == nil || g.Revoked == nil {
			t.Fatalf("the revocation was overwritten: %+v", g)
		}
	})
}
