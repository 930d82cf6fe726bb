package config

import (
	"strings"
	"testing"
	"time"
)

// TestBrokerNATS: a NATS broker section parses with its secret from the
// environment; gateways need no broker password (the NATS configuration
// holds their logins) and the embedded broker's limits are not applied.
func TestBrokerNATS(t *testing.T) {
	t.Setenv("PONTE_NATS_PASSWORD", "a-long-enough-nats-password")
	c, err := Parse("nats.yaml", []byte(`broker:
  nats:
    urls: [nats://n1:4222, nats://n2:4222, nats://n3:4222]
    replicas: 3
    ack_wait: 45s
    user: ponte-ingest
    password_env: PONTE_NATS_PASSWORD
influx:
  url: http://127.0.0.1:8086
gateways:
  - id: gw-1
`))
	if err != nil {
		t.Fatal(err)
	}
	n := c.Broker.NATS
	if n == nil || len(n.URLs) != 3 || n.Replicas != 3 || n.AckWait.D() != 45*time.Second ||
		n.User != "ponte-ingest" || n.Password != "a-long-enough-nats-password" {
		t.Fatalf("broker.nats = %+v", n)
	}
	if c.Broker.Limits.MaxClients != 0 {
		t.Errorf("embedded broker limits filled in with broker.nats: %+v", c.Broker.Limits)
	}
	if tlsCfg, err := n.TLSConfig(); tlsCfg != nil || err != nil {
		t.Errorf("TLSConfig without tls = %v, %v", tlsCfg, err)
	}
}

// TestBrokerNATSWeakPassword: the NATS password is checked like every
// other secret, at its field.
func TestBrokerNATSWeakPassword(t *testing.T) {
	_, err := Parse("nats.yaml", []byte("broker:\n  nats:\n    urls: [nats://n1:4222]\n    user: ingest\n    password: short\ninflux:\n  url: http://127.0.0.1:8086\n"))
	if err == nil {
		t.Fatal("a short NATS password was accepted")
	}
	if want := "nats.yaml:5: broker.nats.password:"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %s", err, want)
	}
}
