package config

import (
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/broker"
	"github.com/ponte-city/ponte/internal/testenv"
)

// brokerYAML starts a file with its broker section on lines 1 and 2; a
// test's broker lines follow from line 3, then influxYAML.
const brokerYAML = "broker:\n  listen: 127.0.0.1:1883\n"

// influxYAML is the one section a valid file needs.
const influxYAML = "influx:\n  url: http://i:8086\n"

func TestBrokerLimitsDefaults(t *testing.T) {
	c, err := Parse("min.yaml", []byte(influxYAML))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Broker.Limits.Embedded(), broker.DefaultLimits(); got != want {
		t.Errorf("limits after Parse = %+v, want the defaults %+v", got, want)
	}
	// A field written keeps its value; the others take their defaults.
	c, err = Parse("some.yaml", []byte(brokerYAML+"  limits:\n    max_clients: 7\n    user_failures:\n      every: 1m\n"+influxYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := broker.DefaultLimits()
	want.MaxClients = 7
	want.UserFailures.Every = time.Minute
	if got := c.Broker.Limits.Embedded(); got != want {
		t.Errorf("limits = %+v, want %+v", got, want)
	}
	if c.Broker.TLS.Embedded() != (broker.TLS{}) {
		t.Errorf("TLS = %+v, want none by default", c.Broker.TLS)
	}
}

// TestBrokerLimitsExternalBroker: with an external broker, the embedded
// broker's limits are neither checked nor filled in.
func TestBrokerLimitsExternalBroker(t *testing.T) {
	c, err := Parse("ext.yaml", []byte("broker:\n  url: tcp://mosquitto:1884\n  limits:\n    max_clients: -1\n"+influxYAML))
	if err != nil {
		t.Fatal(err)
	}
	if c.Broker.Limits.MaxClients != -1 || c.Broker.Limits.MaxQueued != 0 {
		t.Errorf("limits = %+v, want them as written", c.Broker.Limits)
	}
}

func TestBrokerLimitsErrors(t *testing.T) {
	cert, key, _ := testenv.SelfSigned(t, t.TempDir(), "broker")
	// A field that is missing is reported at its parent's line; a value
	// the YAML decoder refuses (a bad duration) at its own line, without
	// the path (internal/yamlconf's decoding errors).
	tests := []struct {
		name, broker, want string
	}{
		{"max_clients negative", "  limits:\n    max_clients: -1\n",
			"bad.yaml:4: broker.limits.max_clients: -1 (expected 1 to 1048576)"},
		{"max_clients too many", "  limits:\n    max_clients: 2000000\n",
			"bad.yaml:4: broker.limits.max_clients: 2000000 (expected 1 to 1048576)"},
		{"max_offline_sessions", "  limits:\n    max_offline_sessions: -5\n",
			"bad.yaml:4: broker.limits.max_offline_sessions: -5 (expected 1 to 16777216)"},
		{"max_inflight", "  limits:\n    max_inflight: 70000\n",
			"bad.yaml:4: broker.limits.max_inflight: 70000 (expected 1 to 65535)"},
		{"max_queued", "  limits:\n    max_clients: 10\n    max_queued: -1\n",
			"bad.yaml:5: broker.limits.max_queued: -1 (expected 1 to 1048576)"},
		{"connect_timeout too short", "  limits:\n    connect_timeout: 1ms\n",
			"bad.yaml:4: broker.limits.connect_timeout: 1ms (expected at least 100ms)"},
		{"connect_timeout negative", "  limits:\n    connect_timeout: -1s\n",
			`bad.yaml:4: broker.limits.connect_timeout: duration must not be negative, got "-1s"`},
		{"connect_timeout a number", "  limits:\n    connect_timeout: 10\n",
			`bad.yaml:4: broker.limits.connect_timeout: expected a duration string`},
		{"session_expiry too short", "  limits:\n    session_expiry: 10ms\n",
			"bad.yaml:4: broker.limits.session_expiry: 10ms (expected at least 1s)"},
		{"session_expiry too long", "  limits:\n    session_expiry: 1300000h\n",
			"bad.yaml:4: broker.limits.session_expiry: 1300000h0m0s (expected at most 136 years)"},
		{"address_failures.burst", "  limits:\n    address_failures:\n      burst: -3\n",
			"bad.yaml:5: broker.limits.address_failures.burst: -3 (expected 1 to 1048576)"},
		{"user_failures.every", "  limits:\n    user_failures:\n      burst: 3\n      every: 1us\n",
			"bad.yaml:6: broker.limits.user_failures.every: 1µs (expected at least 1ms)"},
		{"unknown limit", "  limits:\n    max_sessions: 3\n",
			`bad.yaml:4: broker.limits.max_sessions: unknown field "max_sessions"`},
		{"tls without cert", "  tls:\n    listen: :8883\n    key_file: " + key + "\n",
			`bad.yaml:3: broker.tls.cert_file: required with listen ":8883"`},
		{"tls without key", "  tls:\n    listen: :8883\n    cert_file: " + cert + "\n",
			`bad.yaml:3: broker.tls.key_file: required with listen ":8883"`},
		{"tls bad listen", "  tls:\n    listen: \"8883\"\n    cert_file: " + cert + "\n    key_file: " + key + "\n",
			`bad.yaml:4: broker.tls.listen: "8883" is not host:port`},
		{"tls cert without listen", "  tls:\n    cert_file: " + cert + "\n    key_file: " + key + "\n",
			`bad.yaml:3: broker.tls.listen: required with cert_file and key_file`},
		{"tls missing cert file", "  tls:\n    listen: :8883\n    cert_file: /nonexistent/cert.pem\n    key_file: " + key + "\n",
			`bad.yaml:5: broker.tls.cert_file: cannot load "/nonexistent/cert.pem"`},
		{"tls key of another certificate", "  tls:\n    listen: :8883\n    cert_file: " + cert + "\n    key_file: " + cert + "\n",
			`bad.yaml:5: broker.tls.cert_file: cannot load`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(brokerYAML+tc.broker+influxYAML))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
	// Every problem is reported, each at its own line.
	_, err := Parse("bad.yaml", []byte(brokerYAML+"  limits:\n    max_clients: -1\n    max_queued: -2\n"+influxYAML))
	for _, want := range []string{"bad.yaml:4: broker.limits.max_clients: -1", "bad.yaml:5: broker.limits.max_queued: -2"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
}

func TestBrokerTLSLoads(t *testing.T) {
	cert, key, _ := testenv.SelfSigned(t, t.TempDir(), "broker")
	c, err := Parse("tls.yaml", []byte(brokerYAML+"  tls:\n    listen: \":8883\"\n    cert_file: "+cert+"\n    key_file: "+key+"\n"+influxYAML))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Broker.TLS.Embedded(), (broker.TLS{Listen: ":8883", CertFile: cert, KeyFile: key}); got != want {
		t.Errorf("TLS = %+v, want %+v", got, want)
	}
}
