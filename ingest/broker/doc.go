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
// # Client IDs, sessions and limits
//
// Client IDs are bound to credentials: gateway G connects only as client
// ID "G" or "ponte-edge-G" (ponte-edge's default), and every other client
// ID belongs to ingest's credential. So no gateway can take over ingest's
// session or knock another gateway off by reusing its client ID; a session
// held by another username is refused as well. A will is checked against
// the ACL at CONNECT (a gateway's only on its own status topic); retained
// publishes go through the ACL like any publish. Refusals answer CONNACK
// "not authorised" (or "server unavailable" when throttled or when
// Limits.MaxOfflineSessions is reached), are logged at Warn and counted in
// ponte_ingest_auth_failures_total{listener,reason}. Limits bounds sockets,
// the time to CONNECT, session expiry, offline sessions, inflight and
// queued messages per client, and failed logins per address and username
// (then refused without running bcrypt). A failed TLS handshake and an
// abnormal disconnect are logged at Warn with the remote and the reason.
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
