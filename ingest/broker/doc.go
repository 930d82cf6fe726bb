// Package broker is ingest's embedded MQTT broker (mochi-mqtt), used when
// the configuration names no external broker: one binary is then a
// complete central side for a small city.
//
// # Authentication and ACL
//
// Every client authenticates with a username and password. A gateway's
// username is its gateway ID; it may publish only to its own
// {prefix}/gw/{id}/up and {prefix}/gw/{id}/status, and subscribe only to
// its own {prefix}/gw/{id}/ack and {prefix}/gw/{id}/cmd, so a gateway
// cannot publish under another's ID nor read another's acknowledgements.
// A publish outside its rights is refused; for an MQTT 3.1.1 client at QoS
// 1 mochi disconnects it, which the gateway sees as an error. Ingest's own
// client (Config.Ingest) may publish and subscribe anywhere. Ingest
// re-checks the topic's gateway against the batch's anyway (package
// service), so an external broker with a looser ACL cannot let one
// gateway write as another.
//
// Passwords are compared in constant time. They are held in the
// configuration in clear, like the HTTP tokens: the configuration file is
// the secret and must be readable by the ingest user only.
//
// # Flow control
//
// mochi keeps up to Capabilities.MaximumInflight (8192) unacknowledged QoS
// 1 messages per subscriber; beyond that, during a long InfluxDB outage,
// it drops messages for ingest. Nothing is lost by it: the gateway was not
// acknowledged and resends from its buffer.
package broker
