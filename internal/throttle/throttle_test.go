package throttle

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestGuard(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	reg := prometheus.NewRegistry()
	g, err := New(Config{Listener: "http", Burst: 3, Refill: time.Minute, Registerer: reg, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	// Successes and missing credentials never spend the budget.
	for range 10 {
		a, ok, _ := g.Begin("192.0.2.1", "192.0.2.1:1")
		if !ok {
			t.Fatal("a successful client was throttled")
		}
		a.Succeeded()
		a, ok, _ = g.Begin("192.0.2.1", "192.0.2.1:1")
		if !ok {
			t.Fatal("a client without credentials was throttled")
		}
		a.Refund("missing_credentials")
	}
	for i := range 3 {
		a, ok, _ := g.Begin("192.0.2.1", "192.0.2.1:1")
		if !ok {
			t.Fatalf("failure %d throttled within the burst of 3", i+1)
		}
		a.Failed("bad_credentials")
	}
	if _, ok, wait := g.Begin("192.0.2.1", "192.0.2.1:1"); ok || wait <= 0 || wait > time.Minute {
		t.Fatalf("4th guess: admitted %v, wait %v; want refused with a wait up to 1m", ok, wait)
	}
	if _, ok, _ := g.Begin("192.0.2.2", "192.0.2.2:1"); !ok {
		t.Fatal("another address was throttled")
	}
	now = now.Add(time.Minute)
	if _, ok, _ := g.Begin("192.0.2.1", "192.0.2.1:1"); !ok {
		t.Fatal("not admitted again after one refill period")
	}
	want := `
# HELP ponte_ingest_auth_failures_total Failed authentication attempts by listener (mqtt, mqtts, http_intake, operator_api) and reason (bad_credentials, missing_credentials, throttled: refused unchecked because the address or username spent its budget; MQTT also client_id, session_owner, will, sessions_full).
# TYPE ponte_ingest_auth_failures_total counter
ponte_ingest_auth_failures_total{listener="http",reason="bad_credentials"} 3
ponte_ingest_auth_failures_total{listener="http",reason="missing_credentials"} 10
ponte_ingest_auth_failures_total{listener="http",reason="throttled"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ponte_ingest_auth_failures_total"); err != nil {
		t.Error(err)
	}
	// A second listener on the same registry shares the metric.
	if _, err := New(Config{Listener: "operator_api", Registerer: reg}); err != nil {
		t.Fatalf("second guard on one registry: %v", err)
	}
}

func TestGuardForgetsOldest(t *testing.T) {
	g, err := New(Config{Listener: "http", Burst: 1, Refill: time.Hour, MaxKeys: 2})
	if err != nil {
		t.Fatal(err)
	}
	a, _, _ := g.Begin("a", "a")
	a.Failed("bad_credentials")
	for _, k := range []string{"b", "c"} {
		a, _, _ := g.Begin(k, k)
		a.Failed("bad_credentials")
	}
	if n := g.lru.Len(); n != 2 {
		t.Fatalf("%d keys remembered, want 2", n)
	}
	if _, ok, _ := g.Begin("a", "a"); !ok {
		t.Error("a forgotten address did not come back with a full bucket")
	}
}

func TestKey(t *testing.T) {
	cases := map[string]string{
		"192.0.2.7:5000":                  "192.0.2.7",
		"[2001:db8:1:2:aaaa::1]:443":      "2001:db8:1:2::/64",
		"[2001:db8:1:2:bbbb:cccc::9]:443": "2001:db8:1:2::/64",
		"[::ffff:192.0.2.7]:80":           "::ffff:192.0.2.7",
		"not an address":                  "not an address",
	}
	for remote, want := range cases {
		if got := Key(remote); got != want {
			t.Errorf("Key(%q) = %q, want %q", remote, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	err := Config{Burst: -1, Refill: -time.Second, MaxKeys: -1}.Validate()
	for _, want := range []string{"Listener", "Burst", "Refill", "MaxKeys"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %v does not name %s", err, want)
		}
	}
}

// TestGuardManyAtOnce: many clients behind one address authenticating at
// the same time (a carrier NAT, a reconnect storm after a broker
// restart) are all admitted; only failures spend the budget.
func TestGuardManyAtOnce(t *testing.T) {
	g, err := New(Config{Listener: "mqtt", Burst: 3, Refill: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var open []Attempt
	for i := range 50 {
		a, ok, _ := g.Begin("198.51.100.7", "198.51.100.7:1")
		if !ok {
			t.Fatalf("attempt %d of 50 in flight at once was throttled", i+1)
		}
		open = append(open, a)
	}
	for _, a := range open {
		a.Succeeded()
	}
	for range 3 {
		a, _, _ := g.Begin("198.51.100.7", "198.51.100.7:1")
		a.Failed("bad_credentials")
	}
	if _, ok, _ := g.Begin("198.51.100.7", "198.51.100.7:1"); ok {
		t.Fatal("admitted after the budget of 3 failures was spent")
	}
}
