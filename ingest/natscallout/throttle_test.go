package natscallout

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/bcrypt"

	"github.com/ponte-city/ponte/ingest/broker"
	"github.com/ponte-city/ponte/internal/testenv"
)

// TestThrottled: wrong passwords from one address spend its budget (the
// embedded broker's default, 10 at once); then its requests are refused
// as throttled without a Lookup or a bcrypt check, for any user, and so
// are a user's once its own budget is spent from rotating addresses;
// another address still logs in, and the refusals are counted.
func TestThrottled(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	lookups := 0
	issuer, _ := nkeys.CreateAccount()
	reg := prometheus.NewRegistry()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) // no budget refills
	s, err := New(Config{Issuer: issuer, Registerer: reg, Logger: testenv.Logger(t, 0), Now: func() time.Time { return now },
		Lookup: func(string) ([]byte, bool) {
			mu.Lock()
			defer mu.Unlock()
			lookups++
			return hash, true
		}})
	if err != nil {
		t.Fatal(err)
	}
	burst := broker.DefaultLimits().AddressFailures.Burst
	try := func(host, user, pass, want string) {
		t.Helper()
		mu.Lock()
		before := lookups
		mu.Unlock()
		got := s.decide(decode(t, signedRequestFrom(t, host, user, pass, user)))
		mu.Lock()
		looked := lookups - before
		mu.Unlock()
		if got.reason != want {
			t.Fatalf("%s as %s from %s: %s; want %s", pass, user, host, got.reason, want)
		}
		if want == ReasonThrottled && looked != 0 {
			t.Fatalf("%s as %s from %s: throttled after %d lookups (and bcrypt checks); want none", pass, user, host, looked)
		}
	}
	for i := range burst {
		user := fmt.Sprintf("gw-%d", i) // one address, many users
		try("192.0.2.1", user, "wrong", ReasonPassword)
	}
	try("192.0.2.1", "gw1", "wrong", ReasonThrottled)
	try("192.0.2.1", "gw1", "pw", ReasonThrottled) // the address, whatever it sends
	try("192.0.2.2", "gw1", "pw", ReasonOK)        // another address
	// One user from rotating addresses.
	for i := range burst {
		try(fmt.Sprintf("198.51.100.%d", i+1), "gw-target", "wrong", ReasonPassword)
	}
	try("203.0.113.9", "gw-target", "pw", ReasonThrottled)
	try("203.0.113.9", "gw-other", "pw", ReasonOK)

	// Through handle and respond: counted in the decisions metric.
	s.handle(request{msg: &nats.Msg{Data: signedRequestFrom(t, "192.0.2.1", "gw1", "wrong", "gw1")}, received: now})
	if got := testutil.ToFloat64(s.decided.WithLabelValues("refused", ReasonThrottled)); got != 1 {
		t.Fatalf("throttled refusals counted %v; want 1", got)
	}
}

func decode(t *testing.T, data []byte) *jwt.AuthorizationRequestClaims {
	t.Helper()
	req, err := decodeRequest(data)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestRememberedKeyed: the remembered successful check is keyed per
// process (an HMAC with a random key), so a leaked table of them cannot
// be checked against guesses with a plain hash.
func TestRememberedKeyed(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	var sums [][]byte
	for range 2 {
		issuer, _ := nkeys.CreateAccount()
		s, err := New(Config{Issuer: issuer, Lookup: func(string) ([]byte, bool) { return hash, true }})
		if err != nil {
			t.Fatal(err)
		}
		if !s.passwordOK("gw1", hash, "pw") {
			t.Fatal("the right password refused")
		}
		if !s.passwordOK("gw1", hash, "pw") {
			t.Fatal("the right password refused when remembered")
		}
		if s.passwordOK("gw1", hash, "wrong") {
			t.Fatal("a wrong password accepted")
		}
		sum := s.verified["gw1"]
		sums = append(sums, sum[:])
	}
	if bytes.Equal(sums[0], sums[1]) {
		t.Fatal("two services remember the same check alike: not keyed per process")
	}
}
