package enrol

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRebase(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	g := &Gateway{ID: "g", Enrolled: t0.Add(time.Hour), Updated: t0.Add(time.Hour), Enrolments: 4}
	if r := rebase(g, nil); r.Enrolments != 1 || !r.Enrolled.Equal(r.Updated) {
		t.Fatalf("on no record: %+v", r)
	}
	prev := &Gateway{ID: "g", Enrolled: t0, Enrolments: 7}
	if r := rebase(g, prev); r.Enrolments != 8 || !r.Enrolled.Equal(t0) || g.Enrolments != 4 {
		t.Fatalf("on a record of 7 enrolments: %+v (and g %+v)", r, g)
	}
}

func TestSpent(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { x := now.Add(-d); return &x }
	cases := []struct {
		name        string
		tok         Token
		strip, drop bool
	}{
		{"pending", Token{Expires: now.Add(time.Hour)}, false, false},
		{"used just now, answer kept", Token{Used: ago(time.Minute), Answer: "x", Expires: now.Add(time.Hour)}, false, false},
		{"used 2h ago, answer stripped", Token{Used: ago(2 * time.Hour), Answer: "x", AttemptHash: "y", Expires: now.Add(time.Hour)}, true, false},
		{"used 2h ago, nothing to strip", Token{Used: ago(2 * time.Hour), Expires: now.Add(time.Hour)}, false, false},
		{"expired 31 days ago", Token{Expires: now.Add(-31 * 24 * time.Hour)}, false, true},
		{"expired 2 days ago", Token{Expires: now.Add(-48 * time.Hour)}, false, false},
	}
	for _, tc := range cases {
		strip, drop := spent(&tc.tok, now)
		if strip != tc.strip || drop != tc.drop {
			t.Errorf("%s: strip %v drop %v; want %v %v", tc.name, strip, drop, tc.strip, tc.drop)
		}
	}
}

// TestFileStoreCompareAndSwap: a file store refuses a write on a record
// that changed since it was read, as the bucket does.
func TestFileStoreCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	f, err := openFileStore(t.TempDir(), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.createToken(ctx, &Token{ID: "aaaaaaaaaaaa", Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tok, rev, err := f.token(ctx, "aaaaaaaaaaaa")
	if err != nil || tok == nil || rev == 0 {
		t.Fatalf("token: %+v %d %v", tok, rev, err)
	}
	used := now
	tok.Used, tok.UsedBy = &used, "g"
	site := []byte(siteYAML("g", "m"))
	w := &enrolWrite{token: tok, tokRev: rev + 1, gw: &Gateway{ID: "g", Updated: now, Token: tok.ID}, site: site}
	if _, err := f.enrol(ctx, w); !errors.Is(err, errConflict) {
		t.Fatalf("enrol at another revision: %v", err)
	}
	w.tokRev = rev
	recs, err := f.enrol(ctx, w)
	if err != nil || len(recs) != 2 {
		t.Fatalf("enrol: %v %+v", err, recs)
	}
	if _, err := f.enrol(ctx, w); !errors.Is(err, errConflict) {
		t.Fatalf("the same claim twice: %v", err)
	}
	g, grev, _ := f.gateway(ctx, "g")
	if g.Enrolments != 1 {
		t.Fatalf("gateway %+v", g)
	}
	if _, err := f.putGateway(ctx, g, grev-1); !errors.Is(err, errConflict) {
		t.Fatalf("putGateway at an older revision: %v", err)
	}
}

// TestApplyOncePerRevision: a record at or below the revision the view
// holds (this instance's own write, watched back) is not applied again,
// and OnChange hears each gateway change once, in order.
func TestApplyOncePerRevision(t *testing.T) {
	var changes []Change
	r := open(t, t.TempDir(), &clock{time.Now()}, &changes, nil)
	site := []byte(siteYAML("g", "m"))
	r2 := []byte(siteYAML("g", "m", "n"))
	r.applyAll([]rec{
		{kind: recGateway, id: "g", rev: 5, gw: &Gateway{ID: "g", Enrolments: 1, Bcrypt: "h1"}, site: site, siteName: "s1"},
		{kind: recGateway, id: "g", rev: 5, gw: &Gateway{ID: "g", Enrolments: 1, Bcrypt: "h1"}, site: site, siteName: "s1"},
		{kind: recGateway, id: "g", rev: 3, gw: &Gateway{ID: "g", Enrolments: 9, Bcrypt: "old"}, site: site, siteName: "s0"},
		{kind: recGateway, id: "g", rev: 7, gw: &Gateway{ID: "g", Enrolments: 2, Bcrypt: "h2"}, site: r2, siteName: "s2"},
	})
	if len(changes) != 2 || string(changes[0].PasswordHash) != "h1" || string(changes[1].PasswordHash) != "h2" || !changes[1].Rotated || len(changes[1].Site.Devices) != 2 {
		t.Fatalf("changes %+v", changes)
	}
	// A record whose site config does not check is not taken.
	r.applyFollowed(rec{kind: recGateway, id: "g", rev: 9, gw: &Gateway{ID: "g", Enrolments: 3}, site: []byte(siteYAML("other", "m")), siteName: "s3"})
	if len(changes) != 2 || r.Gateways()[0].Enrolments != 2 {
		t.Fatalf("a record with another gateway's site config was applied: %+v", changes)
	}
}

func TestKVConfigValidate(t *testing.T) {
	c := KVConfig{URLs: []string{"nats://a:4222"}}
	if err := c.Validate(); err != nil || c.Bucket != DefaultBucket || c.Replicas != 3 || c.Timeout != 5*time.Second {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	bad := KVConfig{URLs: []string{"nats://a:4222,nats://b:4222"}, Bucket: "a.b", Replicas: 7, Timeout: -1}
	err := bad.Validate()
	for _, w := range []string{"enrolment.nats.urls[0]", "enrolment.nats.bucket", "enrolment.nats.replicas: 7", "enrolment.nats.timeout"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error does not name %s: %v", w, err)
		}
	}
	if err := (&KVConfig{}).Validate(); err == nil || !strings.Contains(err.Error(), "enrolment.nats.urls: required") {
		t.Errorf("no URLs: %v", err)
	}
}

func TestKVKeys(t *testing.T) {
	if k := KVGatewayKey("fi.gw-1"); k != "gateway.fi=2Egw-1" {
		t.Errorf("KVGatewayKey = %q", k)
	}
	a, b := siteHash([]byte("a")), siteHash([]byte("b"))
	if len(a) != 16 || a == b || kvSiteKey("fi.gw", a) != "site.fi=2Egw."+a {
		t.Errorf("site keys %q %q", a, kvSiteKey("fi.gw", a))
	}
}
