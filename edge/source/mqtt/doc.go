// Package mqtt reads devices that publish JSON over MQTT: sensors on a local
// broker, and LoRaWAN parking, noise and air sensors whose uplinks a network
// server (ChirpStack v4, The Things Stack v3) publishes with the decoded
// payload. It uses github.com/eclipse/paho.mqtt.golang.
//
// # Reading and mapping are apart
//
// Map (mapper.go) is pure: profile mapping, topic, payload and receipt time
// in, device ID, time and readings out. It is table-tested on real-shaped
// fixtures in testdata/ and fuzzed. The Source (source.go, broker.go) owns
// the connections and hands mapped readings to the emitter.
//
// # Mapping rules
//
//   - Device identity: the value at the profile's device_id path (preset:
//     deviceInfo.devEui for chirpstack_v4, end_device_ids.dev_eui for
//     tts_v3, falling back to end_device_ids.device_id when The Things
//     Stack omits the DevEUI, as for some ABP devices). It is matched
//     against source.Device.ID case-insensitively, since network servers
//     disagree on the case of hex EUIs. Without a device_id path the
//     profile serves exactly one device per broker.
//   - Time: an RFC 3339 string, or Unix seconds (milliseconds above 1e11),
//     at the time path. Absent or unparsable: the receipt time, counted in
//     ponte_edge_mqtt_payload_time_issues_total. More than SkewLimit from
//     the receipt time: kept as given and counted as skewed; hiding a
//     wrong device clock or a replay of stored data would mislead more
//     than showing it.
//   - Fields: each at Root + "." + Path, converted to int (integers, numbers
//     without a fraction, numeric strings; 64-bit exact), float (numbers,
//     numeric strings; finite only), bool (true/false, 0/1, "true"/"1"..., "on"/"off" as Milesight's
//     decoders write switch states)
//     or string (strings; numbers and booleans as their text). Scaling
//     turns ints into floats. A wrong type, null or a fraction on an int is
//     bad_decode, a value outside Range bad_range, each Reason naming the
//     JSON path.
//   - A field absent from the payload is skipped, not bad: LoRaWAN codecs
//     routinely send only what changed or what was measured on that port.
//     Skips are counted per device and point
//     (ponte_edge_mqtt_fields_missing_total), so a field that never comes
//     shows in the metrics. The twin shows such a point as stale, which is
//     what it is.
//   - The decoded object itself absent (ChirpStack's "object", TTS's
//     "decoded_payload") while the uplink carried data means the network
//     server's codec failed or is not configured: every field is bad_decode
//     saying so. An uplink without data (MAC-only, empty confirmed frame) is
//     empty: no readings, but the device was heard.
//
// # Connections
//
// Devices are grouped by broker address (mqtt:// and tcp:// are the same,
// default ports filled in): one paho client per broker, each distinct topic
// filter subscribed once at QoS 1, each message dispatched to the device
// whose ID is in the payload. Messages for unknown devices, without a
// device ID, not JSON, or matching no profile are acknowledged, dropped and
// counted by reason (ponte_edge_mqtt_messages_dropped_total), and logged at
// Debug: a network server application often carries more devices than one
// gateway reads.
//
// The client reconnects forever, and subscribes again in its OnConnect
// handler on every connection. A broker restarted without persistence
// forgets all sessions; a client that subscribed once at start then stays
// connected and deaf, the known failure of other gateways, which
// TestBrokerRestart reproduces against a real Mosquitto. The session is
// persistent (clean session off, stable ClientID) so that the broker queues
// uplinks while the gateway's mobile link is down, and so that a message
// left unacknowledged is sent again on the next connection.
//
// # Acknowledgement after disk
//
// Auto-ack is off (paho's SetAutoAckDisabled): a message's PUBACK is sent
// only after the emitter's Commit reported its readings durable (fsynced
// by the buffer's group commit, at most its SyncInterval, 100 ms by
// default, after the emit). Until then the broker still holds the
// message, so a power cut or kill -9 in between loses nothing: the
// persistent session delivers it again. Messages that produce no readings
// (dropped, empty uplinks) are acknowledged at once.
//
// When the Commit fails (the disk failing, the buffer's memory bound
// dropping records, the buffer closed) the message is not acknowledged,
// counted in ponte_edge_mqtt_messages_not_durable_total, logged (Warn
// once per change, Info when readings are durable again) and its readings
// are emitted again after a backoff (1 s doubling to 30 s) until durable.
// Leaving it to the broker alone would not do: a broker resends an
// unacknowledged message only on a new connection (MQTT 3.1.1 section
// 4.4; Mosquitto 2 offers no in-session resend), and unacknowledged messages
// fill its in-flight window (Mosquitto's max_inflight_messages, 20 by
// default), after which it sends this client nothing more. When the
// source stops (agent shutdown, reload) before a Commit resolved, the
// message stays unacknowledged and the next connection of the same
// client ID gets it again (TestRedeliveryAfterFailedCommit).
//
// Delivery is therefore at least once: a message whose PUBACK was lost
// with the connection, or emitted again after ErrNotDurable (the buffer
// keeps such records in memory and writes them if the disk recovers),
// becomes readings twice. They carry the payload's time, so they land on
// the same InfluxDB point; a payload without a time is stamped with the
// receipt time of each copy.
//
// Acknowledging after the fsync bounds a broker connection's throughput to
// about the broker's in-flight window per SyncInterval (about 200
// messages/s with Mosquitto's and the buffer's defaults), ample for
// LoRaWAN (a city of 10,000 sensors reporting every 10 minutes sends 17
// a second); raise max_inflight_messages for busier brokers. PUBACKs go
// out in the order their Commits resolve, which within one group commit
// is not the order of arrival (MQTT 3.1.1 section 4.6 asks for arrival
// order; brokers match PUBACKs by packet identifier, and paho itself
// acknowledges out of order with OrderMatters off).
//
// A retained message on a profile without a payload time is dropped: it is
// the device's last value, of unknown age, and stamping it with the receipt
// time would show stale data as fresh.
//
// Connection changes are logged once each (Warn when lost, with the reason;
// Info when regained, with the downtime) and exported as
// ponte_edge_mqtt_broker_connected and ponte_edge_mqtt_broker_subscribed.
// Connected but not subscribed (a broker ACL refusing the filter) is an
// Error retried with backoff.
//
// # Silence
//
// MQTT devices are not polled, so the only sign of a dead sensor is
// silence. A device with an Interval that sends nothing for SilentAfter (3)
// intervals, counted from Run's start or its last message, is reported
// once: Warn, ponte_edge_mqtt_device_silent 1, ponte_edge_device_up 0, an
// error of kind "silent", and one bad_comm reading per field saying how long
// it has been quiet (and whether its broker is down). Its next message
// clears it, logged at Info. Devices without an Interval are never
// reported.
//
// # Downlinks
//
// The Source is a source.Writer for LoRaWAN devices whose profile lists
// mqtt.downlinks (issue 16). WritePoint encodes the value with the
// downlink's payload template (profile.Template) and publishes it on the
// connection the uplinks come from, to the network server's
// documented downlink topic, whose IDs come from the topic of the
// device's last uplink:
//
//   - ChirpStack v4 ("Integrations > MQTT", commands):
//     application/{application_id}/device/{dev_eui}/event/up gives
//     application/{application_id}/device/{dev_eui}/command/down with
//     {"devEui", "confirmed": false, "fPort", "data": base64};
//   - The Things Stack v3 ("Integrations > MQTT Server", publishing
//     downlink traffic): v3/{application id}@{tenant id}/devices/{device
//     id}/up gives .../down/push with {"downlinks": [{"f_port",
//     "frm_payload": base64, "priority": "NORMAL"}]}. Push, not replace:
//     replacing the queue could drop a downlink another application
//     queued.
//
// Published at QoS 1 to ChirpStack, and at QoS 0 to The Things Stack,
// whose MQTT server supports "the MQTT Standard Version 3.1.1 and QoS 0
// only".
//
// Without an uplink since the source started there is no topic, and the
// write fails at once ("downlink topic unknown"). After the publish the
// write is "sent" (req.Sent) and waits for an uplink whose read-back
// point holds a value Write.Applied accepts: a class A device takes its
// downlink in the receive window after its next uplink, and a WS558
// reports its switch state after a change. An uplink the device sent
// before the downlink that already shows the value also completes the
// write: the point holds what the operator asked for. At expiry (or when
// ctx ends) the write fails, saying what was last read back. The
// downlink is unconfirmed: the read-back is the confirmation, and a
// confirmed downlink would only add airtime.
//
// Writes to one device run one at a time; a write that waits for the
// device past its expiry sends nothing. A downlink is published only on
// an open connection: paho would otherwise keep it and send it on
// reconnection, possibly after the command expired. The network server
// still holds a queued downlink until the device's next uplink, expired
// command or not; neither server's MQTT downlink carries an expiry.
//
// # Concurrency
//
// Paho runs each message handler in its own goroutine (OrderMatters off):
// a handler waits for its Commit, and with OrderMatters on that wait would
// stall paho's router and keepalive ("handlers must not block"). The
// source serializes calls to the emitter, never waits while holding that
// lock, and makes no emit after Run returns. A Source is run once.
package mqtt
