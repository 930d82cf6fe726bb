package intake

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/internal/backoff"
	"github.com/ponte-city/ponte/internal/natsauth"
	"github.com/ponte-city/ponte/wire"
)

// Defaults of JetStreamConfig.
const (
	DefaultStream        = "PONTE_UPLINK"
	DefaultConsumer      = "ponte-ingest"
	DefaultReplicas      = 3
	DefaultAckWait       = 30 * time.Second
	DefaultMaxAckPending = 1024
	DefaultStreamMaxAge  = 24 * time.Hour
)

// mqttStreamPrefix is the subject prefix of nats-server's own stream of
// MQTT QoS 1 and 2 messages ($MQTT_msgs): a message stored under
// "$MQTT.msgs.<subject>" with the header mqttQoSHeader is delivered to
// the MQTT subscribers of <subject>'s topic at the QoS the header names
// (capped at the subscription's), with the server's redelivery until
// PUBACK (server/mqtt.go, mqttDeliverMsgCbQoS12). A plain NATS publish on
// <subject> reaches them at QoS 0 only.
const (
	mqttStreamPrefix = "$MQTT.msgs."
	mqttQoSHeader    = "Nmqtt-Pub"
)

// JetStreamConfig configures the JetStream intake.
type JetStreamConfig struct {
	// URLs are the cluster's client URLs ("nats://host:4222"), all of
	// them: the client connects to any and moves to another when it dies
	// (required).
	URLs []string
	// Stream is the uplink stream's name (default DefaultStream).
	Stream string
	// Consumer is the durable consumer every instance shares (default
	// DefaultConsumer): each batch goes to one instance.
	Consumer string
	// Replicas of the stream and its consumer (default DefaultReplicas;
	// at most the cluster's size).
	Replicas int
	// AckWait is how long the cluster waits for an instance's
	// acknowledgement before it delivers the batch again, to any instance
	// (default DefaultAckWait). A batch still being worked on (InfluxDB
	// slow or down) is kept from redelivery by progress reports every
	// AckWait/3.
	AckWait time.Duration
	// MaxAckPending bounds the batches delivered and not yet acknowledged,
	// over all instances (default DefaultMaxAckPending).
	MaxAckPending int
	// MaxAge and MaxBytes bound the stream (defaults DefaultStreamMaxAge
	// and unlimited). A batch aged out unprocessed is not lost: the
	// gateway frees readings only on ingest's acknowledgement, and sends
	// them again.
	MaxAge   time.Duration
	MaxBytes int64
	// AckStored stores each gateway's acknowledgement in nats-server's MQTT
	// message stream, delivered at QoS 1 (to persistent sessions too,
	// once they reconnect); only QoS 1 ack subscriptions receive it.
	// Without it an acknowledgement is a plain publish on the ack
	// subject: every subscription receives it while connected (a QoS 1
	// one at QoS 0), and the server stores nothing. The edge's session
	// is clean, so a stored ack would not outlive its connection either.
	AckStored bool
	// NakDelay is how long a batch the pipeline could not process waits
	// before it is delivered again (default 1s).
	NakDelay time.Duration
	// User and Password, Token, or Credentials (a .creds file)
	// authenticate ingest to the cluster; TLS, if set, is used for it.
	User, Password, Token, Credentials string
	TLS                                *tls.Config
	// Name is the connection's name in the servers' monitoring (default
	// "ponte-ingest-" + host name).
	Name string
	// Topics is the gateways' MQTT topic layout; the stream's subjects
	// are its topics as nats-server maps them.
	Topics wire.Topics
	// OnStatus, as MQTTConfig.OnStatus: every instance reads every
	// gateway's status (its own ordered consumer, starting from the last
	// status of each gateway in the stream). It must not block.
	OnStatus func(wire.Status)
	// OnReport, if set, receives every gateway's command report (topic
	// and payload, unchecked; issue 16), as MQTTConfig.OnReport: every
	// instance reads all reports, through a durable consumer of its own
	// (ReportConsumer; see jscommands.go). It is called on one goroutine,
	// in order, and may block; the report is acknowledged after it.
	OnReport func(topic string, payload []byte)
	// Logger (default slog.Default()) and Registerer (metrics; default
	// none).
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Validate checks the configuration and fills in defaults.
func (c *JetStreamConfig) Validate() error {
	if len(c.URLs) == 0 {
		return errors.New("jetstream: urls: required (e.g. nats://127.0.0.1:4222)")
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Consumer == "" {
		c.Consumer = DefaultConsumer
	}
	if strings.ContainsAny(c.Stream+c.Consumer, ". *>") {
		return fmt.Errorf("jetstream: stream %q, consumer %q: names must not contain '.', '*', '>' or spaces", c.Stream, c.Consumer)
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return fmt.Errorf("jetstream: replicas: %d (expected 1 to 5)", c.Replicas)
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultStreamMaxAge
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = -1
	}
	if c.NakDelay <= 0 {
		c.NakDelay = time.Second
	}
	if c.Name == "" {
		host, _ := os.Hostname()
		c.Name = "ponte-ingest-" + host
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// UpSubject is the NATS subject of every gateway's batches.
func (c *JetStreamConfig) UpSubject() string { return natsSubject(c.Topics.Up("*")) }

// StatusSubject is the NATS subject of every gateway's status.
func (c *JetStreamConfig) StatusSubject() string { return natsSubject(c.Topics.Status("*")) }

// AckSubject is the subject on which ingest publishes a gateway's
// acknowledgement: the ack topic's, or with AckStored the one that
// stores it for MQTT QoS 1 delivery (see mqttStreamPrefix).
func (c *JetStreamConfig) AckSubject(gateway string) string {
	if !c.AckStored {
		return natsSubject(c.Topics.Ack(gateway))
	}
	return mqttStreamPrefix + natsSubject(c.Topics.Ack(gateway))
}

// JetStream is the intake from a NATS cluster: gateways publish over MQTT
// to any node, the uplink stream keeps their batches, and every ingest
// instance pulls from one shared durable consumer. Run owns the
// connection. See the package doc.
type JetStream struct {
	cfg   JetStreamConfig
	svc   Submitter
	m     jsMetrics
	ready atomic.Bool
	nc    atomic.Pointer[nats.Conn]
	js    atomic.Pointer[jetstream.JetStream]

	mu       sync.Mutex
	inFlight map[*flight]struct{}
}

// flight is a batch taken from the consumer and not yet settled.
type flight struct {
	msg   jetstream.Msg
	topic string
	gw    string
}

// NewJetStream returns an intake feeding svc.
func NewJetStream(cfg JetStreamConfig, svc Submitter) (*JetStream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	j := &JetStream{cfg: cfg, svc: svc, inFlight: map[*flight]struct{}{}}
	j.m = newJSMetrics(cfg.Registerer, j)
	return j, nil
}

// Connected reports whether the client is connected to a node and the
// stream and its consumer are in place.
func (j *JetStream) Connected() bool {
	nc := j.nc.Load()
	return nc != nil && nc.IsConnected() && j.ready.Load()
}

// Server returns the name of the node the client is connected to ("" when
// not connected).
func (j *JetStream) Server() string {
	if nc := j.nc.Load(); nc != nil {
		return nc.ConnectedServerName()
	}
	return ""
}

// Run connects (retrying without end; the client moves between the
// cluster's nodes by itself), ensures the stream and the shared consumer,
// and feeds batches to the pipeline until ctx is done. Batches still in
// the pipeline then are handed back (negative acknowledgement) so that
// another instance takes them at once.
func (j *JetStream) Run(ctx context.Context) error {
	log := j.cfg.Logger
	nc, err := nats.Connect(strings.Join(j.cfg.URLs, ","), j.options()...)
	if err != nil {
		return fmt.Errorf("jetstream intake: connect %s: %w", strings.Join(j.cfg.URLs, ","), err)
	}
	j.nc.Store(nc)
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(j.cfg.MaxAckPending))
	if err != nil {
		return fmt.Errorf("jetstream intake: %w", err)
	}
	j.js.Store(&js)
	acks := newAckPublisher(func(m *nats.Msg) (jetstream.PubAckFuture, error) { return js.PublishMsgAsync(m) },
		j.cfg.AckSubject, log, func(outcome string) { j.m.ackPublish.WithLabelValues(outcome).Inc() })
	if !j.cfg.AckStored {
		acks.plain = nc.PublishMsg
	}
	defer acks.close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); j.heartbeat(ctx) }()
	if j.cfg.OnStatus != nil {
		wg.Add(1)
		go func() { defer wg.Done(); j.statuses(ctx, js) }()
	}
	if j.cfg.OnReport != nil {
		wg.Add(1)
		go func() { defer wg.Done(); j.reports(ctx, js) }()
	}
	policy := backoff.Policy{Base: 200 * time.Millisecond, Max: 5 * time.Second, Jitter: backoff.Equal}
	for attempt := 0; ctx.Err() == nil; attempt++ {
		cons, err := j.ensure(ctx, js)
		if err == nil {
			attempt = 0
			err = j.consume(ctx, acks, cons)
		}
		j.ready.Store(false)
		if ctx.Err() != nil {
			break
		}
		log.Warn("JetStream intake: consumer unavailable; trying again", "stream", j.cfg.Stream, "consumer", j.cfg.Consumer, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(policy.Wait(attempt)):
		}
	}
	j.handBack()
	return nil
}

// options are the NATS connection's options.
func (j *JetStream) options() []nats.Option {
	log := j.cfg.Logger
	opts := []nats.Option{nats.Name(j.cfg.Name),
		nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true), nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("JetStream intake disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			j.m.reconnects.Inc()
			log.Info("JetStream intake reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ConnectHandler(func(nc *nats.Conn) {
			log.Info("JetStream intake connected", "server", nc.ConnectedUrlRedacted())
		}),
	}
	login := natsauth.Login{User: j.cfg.User, Password: j.cfg.Password, Token: j.cfg.Token,
		CredentialsFile: j.cfg.Credentials, TLS: j.cfg.TLS}
	return append(opts, login.Options()...)
}

// ensure creates or updates the stream and the shared consumer.
func (j *JetStream) ensure(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:     j.cfg.Stream,
		Subjects: []string{j.cfg.UpSubject(), j.cfg.StatusSubject(), j.cfg.ReportSubject()},
		Storage:  jetstream.FileStorage, Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld,
		Replicas: j.cfg.Replicas, MaxAge: j.cfg.MaxAge, MaxBytes: j.cfg.MaxBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", j.cfg.Stream, err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, j.cfg.Stream, jetstream.ConsumerConfig{
		Durable: j.cfg.Consumer, FilterSubject: j.cfg.UpSubject(), DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: j.cfg.AckWait, MaxAckPending: j.cfg.MaxAckPending,
		MaxDeliver: -1,
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s on stream %s: %w", j.cfg.Consumer, j.cfg.Stream, err)
	}
	return cons, nil
}

// pullHeartbeat is how often the consumer's leader reports on an open
// pull request. A request is dropped by the leader when its route to this
// instance breaks for a moment (the leader no longer sees the reply
// subject's interest); the client notices two missed heartbeats and pulls
// again. nats.go's default of 5 s left an instance idle for 10 s after a
// route flap while the others did all the work.
const pullHeartbeat = 2 * time.Second

// consume pulls batches until ctx is done or the consumer fails. One
// goroutine receives and registers each message at once (so that its
// progress reports start while it waits for the pipeline); this one
// submits them in order. The queue between them never holds more than
// MaxAckPending messages: the cluster delivers no more unacknowledged.
func (j *JetStream) consume(ctx context.Context, acks *ackPublisher, cons jetstream.Consumer) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(min(j.cfg.MaxAckPending, 256)), jetstream.PullHeartbeat(pullHeartbeat))
	if err != nil {
		return err
	}
	j.ready.Store(true)
	j.cfg.Logger.Info("JetStream intake consuming", "stream", j.cfg.Stream, "consumer", j.cfg.Consumer, "subject", j.cfg.UpSubject())
	queue := make(chan *flight, j.cfg.MaxAckPending)
	recvErr := make(chan error, 1)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		defer close(queue)
		for {
			msg, err := it.Next(jetstream.NextContext(rctx))
			if err != nil {
				it.Stop()
				if rctx.Err() == nil {
					recvErr <- err
				}
				return
			}
			f := j.take(msg)
			if f == nil {
				continue
			}
			select {
			case queue <- f:
			case <-rctx.Done():
				j.settle(f, false)
				return
			}
		}
	}()
	for f := range queue {
		if ctx.Err() != nil {
			j.settle(f, false)
			continue
		}
		j.submit(ctx, acks, f)
	}
	select {
	case err := <-recvErr:
		return err
	default:
		return nil
	}
}

// take registers msg as in flight, or settles it at once when it is not a
// batch (the consumer's filter cannot deliver one).
func (j *JetStream) take(msg jetstream.Msg) *flight {
	if md, err := msg.Metadata(); err == nil && md.NumDelivered > 1 {
		j.m.redelivered.Inc()
	}
	topic := mqttTopic(msg.Subject())
	gw, kind, err := j.cfg.Topics.Gateway(topic)
	if err != nil || kind != "up" {
		j.cfg.Logger.Warn("message on an unexpected subject dropped", "subject", msg.Subject())
		j.m.messages.WithLabelValues("dropped").Inc()
		_ = msg.Term()
		return nil
	}
	f := &flight{msg: msg, topic: topic, gw: gw}
	j.mu.Lock()
	j.inFlight[f] = struct{}{}
	j.mu.Unlock()
	return f
}

// submit hands f to the pipeline; its Done queues the gateway's ack
// (acks) and settles the message.
func (j *JetStream) submit(ctx context.Context, acks *ackPublisher, f *flight) {
	job := service.Job{Transport: "mqtt", Topic: f.topic, Gateway: f.gw, Payload: f.msg.Data()}
	job.Done = func(r service.Result) {
		if r.HasAck {
			acks.publish(r.Ack)
		}
		var inv *service.InvalidError
		switch {
		case r.Err == nil:
			j.settle(f, true)
			j.m.messages.WithLabelValues("acked").Inc()
		case errors.As(r.Err, &inv):
			// Dead-lettered: a redelivery would be refused again.
			j.settle(f, true)
			j.m.messages.WithLabelValues("invalid").Inc()
		default:
			j.cfg.Logger.Debug("batch not processed; delivered again", "topic", f.topic, "err", r.Err)
			j.settle(f, false)
		}
	}
	if err := j.svc.Submit(ctx, job); err != nil {
		j.cfg.Logger.Debug("batch not taken (stopping)", "topic", f.topic, "err", err)
		j.settle(f, false)
	}
}

// settle acknowledges f's message (ok) or hands it back for redelivery
// after NakDelay, and forgets it. A lost acknowledgement makes the cluster
// deliver the batch again, which dedup makes harmless.
func (j *JetStream) settle(f *flight, ok bool) {
	j.mu.Lock()
	_, held := j.inFlight[f]
	delete(j.inFlight, f)
	j.mu.Unlock()
	if !held {
		return // handed back at shutdown already
	}
	if ok {
		_ = f.msg.Ack()
		return
	}
	j.m.messages.WithLabelValues("nak").Inc()
	_ = f.msg.NakWithDelay(j.cfg.NakDelay)
}

// handBack settles every batch still in flight as not processed.
func (j *JetStream) handBack() {
	j.mu.Lock()
	fs := make([]*flight, 0, len(j.inFlight))
	for f := range j.inFlight {
		fs = append(fs, f)
	}
	j.mu.Unlock()
	for _, f := range fs {
		j.settle(f, false)
	}
}

// heartbeat reports progress on every batch in flight every AckWait/3, so
// that the cluster does not deliver a batch this instance still works on
// (InfluxDB down: the pipeline retries) to another instance. If this
// instance dies, the reports stop and the batch goes to another one after
// AckWait.
func (j *JetStream) heartbeat(ctx context.Context) {
	tick := time.NewTicker(max(j.cfg.AckWait/3, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		j.mu.Lock()
		fs := make([]*flight, 0, len(j.inFlight))
		for f := range j.inFlight {
			fs = append(fs, f)
		}
		j.mu.Unlock()
		for _, f := range fs {
			if f.msg.InProgress() == nil {
				j.m.progress.Inc()
			}
		}
	}
}

// statuses follows every gateway's status with an ordered consumer of its
// own, from the last status of each gateway the stream holds (as an MQTT
// subscriber gets the retained ones), until ctx is done.
func (j *JetStream) statuses(ctx context.Context, js jetstream.JetStream) {
	j.follow(ctx, "gateway status consumer", func(ctx context.Context) error { return j.followStatuses(ctx, js) })
}

// follow runs f again after each failure, with a backoff, until ctx is
// done; what names f in the log.
func (j *JetStream) follow(ctx context.Context, what string, f func(context.Context) error) {
	policy := backoff.Policy{Base: 200 * time.Millisecond, Max: 5 * time.Second, Jitter: backoff.Equal}
	for attempt := 0; ; attempt++ {
		err := f(ctx)
		if ctx.Err() != nil {
			return
		}
		j.cfg.Logger.Warn("JetStream intake: "+what+" failed; trying again", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(policy.Wait(attempt)):
		}
	}
}

func (j *JetStream) followStatuses(ctx context.Context, js jetstream.JetStream) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	oc, err := js.OrderedConsumer(cctx, j.cfg.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{j.cfg.StatusSubject()}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy,
	})
	cancel()
	if err != nil {
		return err
	}
	return each(ctx, oc, func(msg jetstream.Msg) {
		if st, ok := decodeStatus(j.cfg.Topics, mqttTopic(msg.Subject()), msg.Data(), j.cfg.Logger); ok {
			j.cfg.OnStatus(st)
		}
	})
}

// each hands every message of cons to f, one at a time, until ctx is
// done or the consumer fails.
func each(ctx context.Context, cons jetstream.Consumer, f func(jetstream.Msg), opts ...jetstream.PullMessagesOpt) error {
	it, err := cons.Messages(opts...)
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return err
		}
		f(msg)
	}
}

// decodeStatus decodes a gateway's status message from topic, refusing
// one whose gateway is not the topic's.
func decodeStatus(topics wire.Topics, topic string, payload []byte, log *slog.Logger) (wire.Status, bool) {
	gw, kind, err := topics.Gateway(topic)
	if err != nil || kind != "status" {
		return wire.Status{}, false
	}
	st, err := wire.DecodeStatus(payload)
	if err != nil {
		log.Warn("gateway status refused", "topic", topic, "err", err)
		return wire.Status{}, false
	}
	if st.Gateway != gw {
		log.Warn("gateway status refused: gateway differs from the topic's", "topic", topic, "status_gateway", st.Gateway)
		return wire.Status{}, false
	}
	return st, true
}

// jsMetrics are the JetStream intake's metrics.
type jsMetrics struct {
	messages    *prometheus.CounterVec
	ackPublish  *prometheus.CounterVec
	redelivered prometheus.Counter
	progress    prometheus.Counter
	reconnects  prometheus.Counter
}

func newJSMetrics(reg prometheus.Registerer, j *JetStream) jsMetrics {
	m := jsMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ponte_ingest_jetstream_messages_total",
			Help: "Batches taken from the uplink consumer, by outcome: acked (written or a replay), invalid (dead-lettered, acked), nak (handed back for redelivery), dropped (not a batch subject)."},
			[]string{"outcome"}),
		ackPublish: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ponte_ingest_jetstream_gateway_acks_total",
			Help: "Gateway acknowledgements stored for QoS 1 delivery over MQTT, by result: ok (stored), error (not confirmed; sent again unless a newer ack of the gateway covers it), coalesced (replaced while waiting by a newer ack of the gateway)."}, []string{"result"}),
		redelivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "ponte_ingest_jetstream_redelivered_total",
			Help: "Batches the cluster delivered more than once (ack timeout, handed back, or an instance died)."}),
		progress: prometheus.NewCounter(prometheus.CounterOpts{Name: "ponte_ingest_jetstream_progress_total",
			Help: "Progress reports sent for batches still being processed (keeps them from redelivery)."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "ponte_ingest_jetstream_reconnects_total",
			Help: "Reconnections to the NATS cluster."}),
	}
	if reg != nil {
		reg.MustRegister(m.messages, m.ackPublish, m.redelivered, m.progress, m.reconnects,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ponte_ingest_jetstream_in_flight",
				Help: "Batches taken from the consumer and not yet settled."}, func() float64 {
				j.mu.Lock()
				defer j.mu.Unlock()
				return float64(len(j.inFlight))
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ponte_ingest_jetstream_connected",
				Help: "1 while connected to the cluster with the consumer in place."}, func() float64 {
				if j.Connected() {
					return 1
				}
				return 0
			}))
	}
	return m
}
