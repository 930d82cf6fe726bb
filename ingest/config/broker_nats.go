package config

import (
	"strings"

	"github.com/ponte-city/ponte/internal/yamlconf"
)

// BrokerNATS is a NATS cluster as the broker (broker.nats): gateways
// connect over MQTT to any node's MQTT listener, and ingest consumes
// their batches from a replicated JetStream stream through a durable
// consumer all instances share (package intake, JetStream). It excludes
// broker.url and the embedded broker. Zero fields take intake's defaults.
type BrokerNATS struct {
	// NATSConn: the servers, ingest's login and TLS.
	NATSConn `yaml:",inline"`
	// Stream and Consumer name the uplink stream and the shared durable
	// consumer (defaults PONTE_UPLINK, ponte-ingest).
	Stream   string `yaml:"stream"`
	Consumer string `yaml:"consumer"`
	// Replicas of the stream (default 3; at most the cluster's size).
	Replicas int `yaml:"replicas"`
	// AckWait is how long a delivered batch may go without an
	// acknowledgement or progress report before it is delivered again
	// (default 30s).
	AckWait yamlconf.Duration `yaml:"ack_wait"`
	// MaxAckPending bounds the unacknowledged batches over all instances
	// (default 1024).
	MaxAckPending int `yaml:"max_ack_pending"`
	// AckQoS is how gateways' acknowledgements are sent: 0 (the default)
	// a plain publish every ack subscription receives while connected, 1
	// stored for nats-server's MQTT QoS 1 delivery, received only by QoS 1
	// subscriptions (intake.JetStreamConfig.AckStored).
	AckQoS int `yaml:"ack_qos"`
	// MaxAge and MaxBytes bound the stream (defaults 24h, unlimited).
	MaxAge   yamlconf.Duration `yaml:"max_age"`
	MaxBytes int64             `yaml:"max_bytes"`
	// Callout, if set, answers the cluster's auth callout for gateways
	// (broker_nats_callout.go).
	Callout *NATSCallout `yaml:"callout"`
}

// natsSecretFields are broker.nats' secrets, for resolveSecrets.
func (c *Config) natsSecretFields() []secretField {
	n := c.Broker.NATS
	if n == nil {
		return nil
	}
	return natsConnSecrets("broker.nats", &n.NATSConn)
}

// validateNATS checks broker.nats, naming the field and what was expected.
func (c *Config) validateNATS(bad func(path, format string, args ...any)) {
	n := c.Broker.NATS
	if n == nil {
		return
	}
	if c.Broker.URL != "" {
		bad("broker.nats", "broker.url is set too: give broker.url (an MQTT broker) or broker.nats (a NATS cluster), not both")
	}
	for _, f := range []string{"listen", "limits", "tls"} {
		if c.doc.Has("broker." + f) {
			bad("broker."+f, "belongs to the embedded broker, which does not run with broker.nats (gateways connect to the NATS nodes' MQTT listeners): remove it")
		}
	}
	c.validateNATSConn("broker.nats", &n.NATSConn, bad)
	if n.AckQoS != 0 && n.AckQoS != 1 {
		bad("broker.nats.ack_qos", "%d (expected 0, a plain publish, or 1, stored for QoS 1 delivery; default 0)", n.AckQoS)
	}
	for _, f := range []struct{ path, v string }{{"stream", n.Stream}, {"consumer", n.Consumer}} {
		if strings.ContainsAny(f.v, ". *>\t") {
			bad("broker.nats."+f.path, "%q (expected a name without '.', '*', '>' or spaces)", f.v)
		}
	}
	if n.Replicas < 0 || n.Replicas > 5 {
		bad("broker.nats.replicas", "%d (expected 1 to 5; 0 for the default, 3)", n.Replicas)
	}
	if n.AckWait < 0 {
		bad("broker.nats.ack_wait", "%v (expected a positive duration, e.g. 30s)", n.AckWait.D())
	}
	if n.MaxAckPending < 0 {
		bad("broker.nats.max_ack_pending", "%d (expected a positive number of batches)", n.MaxAckPending)
	}
	if n.MaxAge < 0 {
		bad("broker.nats.max_age", "%v (expected a positive duration, e.g. 24h)", n.MaxAge.D())
	}
	if n.MaxBytes < 0 {
		bad("broker.nats.max_bytes", "%d (expected a positive number of bytes; 0 for unlimited)", n.MaxBytes)
	}
	if n.Callout != nil {
		c.validateNATSCallout(n.Callout, bad)
	}
}
