package intake

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Commands and reports over a NATS cluster (issue 16).
//
// A command is stored under "$MQTT.msgs.<cmd subject>" with the header
// Nmqtt-Pub: 1, as the gateways' acks are (mqttStreamPrefix): nats-server
// delivers it from its $MQTT_msgs stream at QoS 1 to the gateway's QoS 1
// subscription on its command topic, on whichever node the gateway is
// connected to, and redelivers it until the gateway's PUBACK
// (server/mqtt.go, mqttDeliverMsgCbQoS12). A plain NATS publish on the
// cmd subject would reach it at QoS 0 only: nats-server's
// mqttDeliverMsgCbQoS0 delivers "as QoS0 messages [...] the published
// messages [that] come from (other) NATS publishers on the subject", and
// one lost on a flaky link would wait for ingest's next resend. The
// edge's session is clean: a command stored while the gateway is away is
// not delivered when it comes back (its new subscription's consumer
// starts at new messages); ingest's command service publishes it again
// when the gateway's status says online and every commands.resend, and
// the edge's durable dedup of command IDs makes every repeat harmless.
//
// A gateway's MQTT QoS 1 publish on its report topic is delivered by
// nats-server to the NATS subscribers of the mapped subject and to the
// streams that capture it (mqttInitiateMsgDelivery, processInboundClientMsg),
// then stored in $MQTT_msgs for MQTT subscribers, before the PUBACK. The
// uplink stream captures the report subject too, and each instance reads
// every report through a durable consumer of its own (named after
// JetStreamConfig.Name, as the MQTT intake's persistent session is named
// after its client ID): a report that arrives while the instance is
// disconnected or restarting waits in the stream, as it would in an MQTT
// session. A core subscription would lose it, and a command whose final
// report is lost after its "received" step is not resent. A report is
// acknowledged after OnReport returns. Several instances each keep their
// own commands: a report of another instance's command is refused and
// counted by the command service, as over MQTT.

// jsPublishTimeout bounds Publish's wait for the cluster's answer.
const jsPublishTimeout = 5 * time.Second

// ReportSubject is the NATS subject of every gateway's command reports.
func (c *JetStreamConfig) ReportSubject() string { return natsSubject(c.Topics.Report("*")) }

// ReportConsumer is the name of this instance's durable consumer of
// reports: Consumer + "-reports-" + Name, with the characters a
// consumer's name may not hold replaced by '_'.
func (c *JetStreamConfig) ReportConsumer() string {
	b := []byte(c.Consumer + "-reports-" + c.Name)
	for i, ch := range b {
		ok := ch == '-' || ch == '_' || ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z'
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// Publish stores payload for MQTT QoS 1 delivery on topic (a gateway's
// command topic) and waits for the cluster's confirmation, at most 5s or
// until ctx is done. It returns ErrNotConnected while Run has no
// connection to the cluster.
func (j *JetStream) Publish(ctx context.Context, topic string, payload []byte) error {
	js := j.js.Load()
	nc := j.nc.Load()
	if js == nil || nc == nil || !nc.IsConnected() {
		return ErrNotConnected
	}
	subject := natsSubject(topic)
	if subject == "" {
		return fmt.Errorf("jetstream publish: topic %q has an empty level (no NATS subject)", topic)
	}
	m := nats.NewMsg(mqttStreamPrefix + subject)
	m.Header.Set(mqttQoSHeader, "1")
	m.Data = payload
	ctx, cancel := context.WithTimeout(ctx, jsPublishTimeout)
	defer cancel()
	if _, err := (*js).PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("jetstream publish %s: %w", m.Subject, err)
	}
	return nil
}

// reports follows every gateway's command reports with this instance's
// durable consumer, handing each to OnReport, until ctx is done.
func (j *JetStream) reports(ctx context.Context, js jetstream.JetStream) {
	j.follow(ctx, "command report consumer "+j.cfg.ReportConsumer(), func(ctx context.Context) error { return j.followReports(ctx, js) })
}

func (j *JetStream) followReports(ctx context.Context, js jetstream.JetStream) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	cons, err := js.CreateOrUpdateConsumer(cctx, j.cfg.Stream, jetstream.ConsumerConfig{
		Durable: j.cfg.ReportConsumer(), FilterSubject: j.cfg.ReportSubject(),
		// New reports only: the first start follows from now; later ones
		// resume where the consumer stopped.
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy, AckWait: j.cfg.AckWait, MaxDeliver: -1,
		// An instance gone for good does not keep its consumer: after as
		// long as the stream keeps reports, nothing it could read is left.
		InactiveThreshold: j.cfg.MaxAge,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("consumer %s on stream %s: %w", j.cfg.ReportConsumer(), j.cfg.Stream, err)
	}
	return each(ctx, cons, func(msg jetstream.Msg) {
		j.cfg.OnReport(mqttTopic(msg.Subject()), msg.Data())
		_ = msg.Ack()
	}, jetstream.PullHeartbeat(pullHeartbeat))
}
