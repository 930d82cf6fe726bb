package intake

// NATSSubject returns the NATS subject nats-server gives an MQTT topic
// ('/' to '.', '.' to "//"; "" for a topic with an empty level), for the
// packages that grant gateways their subjects (natscallout) as
// deploy/nats/accounts.conf does.
func NATSSubject(topic string) string { return natsSubject(topic) }
