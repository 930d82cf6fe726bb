// Package intake receives gateway batches for the ingest pipeline (package
// service): over MQTT from a broker's shared subscription, and over HTTP
// for gateways that cannot speak MQTT. It also serves ingest's health,
// readiness and metrics endpoints.
//
// # MQTT
//
// The client subscribes to Topics.UpFilter(group), a shared subscription
// ($share/group/{prefix}/gw/+/up): on a broker with several ingest
// instances in the same group, each batch goes to one of them. It connects
// with a persistent session (clean session off, a stable client ID) and
// paho's automatic acknowledgement disabled: a batch is acknowledged to
// the broker only after the pipeline wrote it (or dead-lettered it), so
// the broker delivers an unfinished batch again after a crash or
// reconnect. The gateway's wire.Ack is published (QoS 1) before the MQTT
// acknowledgement.
//
// Backpressure: the broker sends at most its in-flight limit of
// unacknowledged messages (Mosquitto's max_inflight_messages, 20 by
// default); while the sink is down none is acknowledged, so the rest stays
// with the broker. The pipeline's queues (Workers x QueueLen) should be
// larger than that limit; if they fill, the paho handler blocks and paho
// stops reading the connection until there is room.
//
// # Several instances
//
// Mosquitto hands the messages of a share group out in turn, not per
// gateway, so two instances see batches of the same gateway, out of
// order. Give them one dedup state directory (dedup.Config.Dir on a disk
// both reach with working flock): a gateway's batches are then processed
// one at a time across instances, and acknowledgements cover only
// contiguous written seqs, so each reading is written and applied once in
// all. Instances with separate state directories lose nothing either,
// but a replay that lands on the other instance is written again
// (InfluxDB merges it) and applied to that instance's twin again, and a
// batch the other instance took leaves a gap in this instance's state
// that holds its acknowledgements back (the gateway keeps the higher of
// the two instances' acks) until the gateway's Retained passes it; with
// separate state, use a broker with
// sticky shared subscriptions (EMQX's sticky or hash_clientid strategy)
// so that a gateway stays with one instance.
//
// # NATS JetStream (a cluster)
//
// With broker.nats, gateways connect over MQTT to any node of a NATS
// cluster, unchanged; nats-server maps their topics to subjects ('/' to
// '.', '.' to "//"). JetStream (jetstream.go) ensures a replicated stream
// (default PONTE_UPLINK, 3 replicas, file storage, limits by age and
// bytes) on the uplink and status subjects, and every instance pulls from
// one durable consumer (explicit ack, ack_wait, max_ack_pending, unlimited
// redeliveries): each batch goes to one instance. A batch is acknowledged
// to JetStream only after the pipeline wrote or dead-lettered it; a batch
// not processed is handed back (Nak with a delay) and delivered again.
// While a batch is in the pipeline (InfluxDB slow or down) the intake
// reports progress every ack_wait/3, so the cluster does not give it to
// another instance meanwhile; when an instance dies the reports stop and
// the batch goes to another instance after ack_wait, where dedup makes
// the replay harmless (as for a gateway's resend).
//
// The MQTT PUBACK a gateway gets from nats-server does not wait for the
// uplink stream to store the batch; a batch lost there (a stream leader
// changing) is not lost to the gateway, which frees readings only on
// ingest's wire.Ack and resends when acks stall.
//
// The gateway's wire.Ack is stored under "$MQTT.msgs.<ack subject>" with
// the header Nmqtt-Pub: 1, nats-server's own stream of MQTT QoS 1
// messages: the server delivers it at QoS 1 to the gateway's subscription
// on its ack topic, on whichever node the gateway is connected to, and
// keeps it for a persistent session while the gateway is away (a plain
// NATS publish on the ack subject would arrive at QoS 0 only). Each such
// store is a replicated write, and its delivery a PUBACK and a consumer
// state update on the cluster, so the intake keeps one store per gateway
// in flight (jsacks.go): acks that come meanwhile wait, and a waiting ack
// is replaced by the next one of its epoch unless it carries refusals
// (under load one store covers several batches). A store the cluster
// does not confirm is sent again unless a newer waiting ack covers it;
// the pipeline is never blocked by it. The batch's own acknowledgement to
// the uplink consumer is Ack, not AckSync: it is sent after the pipeline
// finished the batch, and one lost on the way only makes the cluster
// deliver the batch again, which dedup absorbs. Gateway
// statuses are read by each instance with an ordered consumer of its own,
// from the last status of each gateway in the stream.
//
// Operators' commands (issue 16) are stored like acks, under
// "$MQTT.msgs.<cmd subject>", for QoS 1 delivery to the gateway
// (JetStream.Publish); the gateways' command reports are captured by the
// uplink stream and read by each instance through a durable consumer of
// its own (JetStreamConfig.ReportConsumer), so none is lost while an
// instance is disconnected or restarting. jscommands.go says why.
//
// # HTTP
//
//	POST /v1/gateways/{id}/batches
//	Authorization: Bearer <the gateway's http_token>
//	Content-Type: application/vnd.ponte.batch
//	body: one encoded wire.Batch
//
// Answers: 200 with the wire.Ack JSON once the batch is durably written
// (or was a replay); 400 with {"error","reason"} for a batch refused and
// dead-lettered; 401 without credentials; 403 for a wrong token and for an
// unknown gateway alike (same body, the same bytes compared: the answer
// does not tell which gateways exist); 429 with Retry-After, the token
// unchecked, once the source address spent its budget of failed
// authentications (HTTPConfig.Guard, package internal/throttle); 413 over wire.MaxBatchBytes (not dead-lettered: it
// was never read); 415 for another content type; 503 with Retry-After
// while the sink is down, the service is stopping or the write took longer
// than the request timeout (the gateway sends the batch again; dedup makes
// that harmless).
package intake
