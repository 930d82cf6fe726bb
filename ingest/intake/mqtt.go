package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/wire"
)

// Submitter takes jobs into the pipeline; *service.Service implements it.
type Submitter interface {
	Submit(ctx context.Context, j service.Job) error
}

// DefaultShareGroup is the shared-subscription group when none is set.
const DefaultShareGroup = "ponte-ingest"

// MQTTConfig configures the MQTT intake.
type MQTTConfig struct {
	// URL is the broker, e.g. "tcp://127.0.0.1:1883" (required).
	URL string
	// ClientID must be stable across restarts (the persistent session
	// holds unacknowledged batches) and distinct per instance (default
	// "ponte-ingest-" + host name).
	ClientID string
	// Username and Password authenticate ingest to the broker.
	Username, Password string
	// Topics is the topic layout.
	Topics wire.Topics
	// ShareGroup is the shared-subscription group (default
	// DefaultShareGroup). "-" subscribes without sharing (a single
	// instance on a broker without $share support).
	ShareGroup string
	// OnStatus, if set, receives every gateway's status message (retained
	// "online", or the last will's "offline"), for the twin to mark a dead
	// gateway's sites offline. Every instance subscribes to all statuses
	// (not shared): each keeps its own twin. It must not block.
	OnStatus func(wire.Status)
	// OnReport, if set, receives every gateway's command report (topic
	// and payload, unchecked; issue 16). Every instance subscribes to all
	// reports (not shared). It is called on a goroutine of its own, in
	// arrival order, and may block (the message is acknowledged to the
	// broker after it returns); it must not panic on any payload. While
	// ReportQueue reports wait for it, further ones are dropped
	// (acknowledged, counted in ponte_ingest_command_reports_dropped_total,
	// logged at most once a second): paho delivers every subscription on
	// one goroutine, and one gateway's flood of reports must not hold
	// back every gateway's batches. A gateway republishes a final report
	// it journaled, so a dropped one is not lost for good.
	OnReport func(topic string, payload []byte)
	// ReportQueue is how many reports may wait for OnReport (default
	// 256).
	ReportQueue int
	// Registerer receives the intake's metrics (default: none).
	Registerer prometheus.Registerer
	// PublishTimeout bounds Publish's wait for the broker's PUBACK
	// (default 5s).
	PublishTimeout time.Duration
	// KeepAlive (default 30s) and ConnectTimeout (default 10s).
	KeepAlive, ConnectTimeout time.Duration
	// ProbeInterval is how often the intake publishes a probe to itself
	// through the broker (default 5s; negative: never). When a probe has
	// not come back after ProbeMisses more intervals, the session no longer
	// receives (taken over by another client, subscription lost): the
	// intake reports not connected (/readyz) and connects afresh.
	ProbeInterval time.Duration
	// ProbeMisses (default 3); see ProbeInterval.
	ProbeMisses int
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Validate checks the configuration and fills in defaults.
func (c *MQTTConfig) Validate() error {
	if c.URL == "" {
		return errors.New("mqtt: url: required (e.g. tcp://127.0.0.1:1883)")
	}
	if c.ClientID == "" {
		host, _ := os.Hostname()
		c.ClientID = "ponte-ingest-" + host
	}
	if c.ShareGroup == "" {
		c.ShareGroup = DefaultShareGroup
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = 30 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = 5 * time.Second
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 5 * time.Second
	}
	if c.ReportQueue <= 0 {
		c.ReportQueue = 256
	}
	if c.ProbeMisses <= 0 {
		c.ProbeMisses = 3
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// ProbeTopic is the topic on which an intake with this client ID sends
// probes to itself: {prefix}/ingest/{client ID}/probe, with the client
// ID's characters that are not allowed in a topic level replaced by '_'.
// A broker ACL must let ingest publish and subscribe to it
// (deploy/mosquitto/ponte.acl does).
func (c *MQTTConfig) ProbeTopic() string {
	id := strings.Map(func(r rune) rune {
		if r == '/' || r == '+' || r == '#' || r == 0 {
			return '_'
		}
		return r
	}, c.ClientID)
	return c.Topics.Prefix + "/ingest/" + id + "/probe"
}

// MQTT is the MQTT intake. Run owns its connection.
type MQTT struct {
	cfg       MQTTConfig
	svc       Submitter
	filter    string
	connected atomic.Bool
	probeSent atomic.Uint64 // number of the last probe published
	probeSeen atomic.Uint64 // number of the last probe received
	// submitting is true while the message handler waits in Submit
	// (back-pressure: the pipeline is full, e.g. InfluxDB is down). Paho
	// delivers in order on one goroutine, so the probes wait behind it.
	submitting atomic.Bool
	// client is the current connection (for Publish); reports are the
	// reports waiting for OnReport.
	client  atomic.Pointer[paho.Client]
	reports chan paho.Message
	// dropped counts the reports dropped on a full queue; dropLog limits
	// the warnings about them.
	dropped prometheus.Counter
	dropLog *rate.Limiter
}

// ErrNotConnected is Publish's error while the intake has no broker
// connection.
var ErrNotConnected = errors.New("mqtt intake: not connected to the broker")

// Publish publishes payload on topic with QoS 1 (not retained) and waits
// for the broker's PUBACK, at most PublishTimeout or until ctx is done.
func (m *MQTT) Publish(ctx context.Context, topic string, payload []byte) error {
	cp := m.client.Load()
	if cp == nil || !m.connected.Load() {
		return ErrNotConnected
	}
	tok := (*cp).Publish(topic, 1, false, payload)
	t := time.NewTimer(m.cfg.PublishTimeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqtt publish %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt publish %s: %w", topic, ctx.Err())
	case <-t.C:
		return fmt.Errorf("mqtt publish %s: no PUBACK within %s", topic, m.cfg.PublishTimeout)
	}
}

// handleReport hands a report to the reports' goroutine: OnReport may
// wait, and paho's delivery goroutine, which every gateway's batches go
// through, must not. On a full queue the report is dropped: acknowledged
// (an unacknowledged message would hold the broker's in-flight window)
// and counted.
// Unacknowledged at a stop, it is delivered again to the next session.
func (m *MQTT) handleReport(ctx context.Context, msg paho.Message) {
	if ctx.Err() != nil {
		return
	}
	select {
	case m.reports <- msg:
		return
	default:
	}
	msg.Ack()
	m.dropped.Inc()
	if m.dropLog.Allow() {
		m.cfg.Logger.Warn("command reports arrive faster than they are handled; report dropped (counted in ponte_ingest_command_reports_dropped_total)",
			"topic", msg.Topic(), "queue", cap(m.reports))
	}
}

// runReports calls OnReport for each report until ctx is done.
func (m *MQTT) runReports(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-m.reports:
			m.cfg.OnReport(msg.Topic(), msg.Payload())
			msg.Ack()
		}
	}
}

// NewMQTT returns an intake feeding svc.
func NewMQTT(cfg MQTTConfig, svc Submitter) (*MQTT, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	group := cfg.ShareGroup
	if group == "-" {
		group = ""
	}
	m := &MQTT{cfg: cfg, svc: svc, filter: cfg.Topics.UpFilter(group), reports: make(chan paho.Message, cfg.ReportQueue),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "ponte_ingest_command_reports_dropped_total",
			Help: "Gateways' command reports dropped because ReportQueue reports were waiting for the commands' service."}),
		dropLog: rate.NewLimiter(rate.Every(time.Second), 1)}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(m.dropped); err != nil {
			return nil, fmt.Errorf("mqtt intake: metrics: %w", err)
		}
	}
	return m, nil
}

// Connected reports whether the broker connection is up and, as far as
// the last probes tell, the session receives what is published to it.
func (m *MQTT) Connected() bool { return m.connected.Load() }

// Run connects (retrying until it succeeds), subscribes on every
// connection, and feeds batches to the pipeline until ctx is done; then it
// disconnects. Batches still in the pipeline stay unacknowledged and are
// delivered again to the next session. When the probes stop coming back
// (see MQTTConfig.ProbeInterval) it drops the client and connects a new
// one, which subscribes again.
func (m *MQTT) Run(ctx context.Context) error {
	if m.cfg.OnReport != nil {
		done := make(chan struct{})
		go func() { defer close(done); m.runReports(ctx) }()
		defer func() { <-done }()
	}
	for {
		c := paho.NewClient(m.options(ctx))
		m.client.Store(&c)
		tok := c.Connect()
		select {
		case <-tok.Done():
			if err := tok.Error(); err != nil {
				return fmt.Errorf("mqtt intake: connect %s: %w", m.cfg.URL, err)
			}
		case <-ctx.Done():
		}
		m.watch(ctx, c)
		m.connected.Store(false)
		c.Disconnect(250)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// options are the paho client's options.
func (m *MQTT) options(ctx context.Context) *paho.ClientOptions {
	log := m.cfg.Logger
	handler := func(c paho.Client, msg paho.Message) { m.handle(ctx, c, msg) }
	return paho.NewClientOptions().AddBroker(m.cfg.URL).SetClientID(m.cfg.ClientID).
		SetUsername(m.cfg.Username).SetPassword(m.cfg.Password).
		SetCleanSession(false).SetAutoAckDisabled(true).SetOrderMatters(true).SetStore(MemoryStore()).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).SetKeepAlive(m.cfg.KeepAlive).
		SetConnectTimeout(m.cfg.ConnectTimeout).SetWriteTimeout(10 * time.Second).
		SetOnConnectHandler(func(c paho.Client) {
			type sub struct {
				what, filter string
				h            paho.MessageHandler
			}
			subs := []sub{{"batches", m.filter, handler}}
			if m.cfg.OnStatus != nil {
				subs = append(subs, sub{"gateway status", m.cfg.Topics.StatusFilter(), m.handleStatus})
			}
			if m.cfg.OnReport != nil {
				subs = append(subs, sub{"command reports", m.cfg.Topics.ReportFilter(), func(_ paho.Client, msg paho.Message) { m.handleReport(ctx, msg) }})
			}
			if m.cfg.ProbeInterval > 0 {
				subs = append(subs, sub{"probes", m.cfg.ProbeTopic(), m.handleProbe})
			}
			for _, s := range subs {
				if tok := c.Subscribe(s.filter, 1, s.h); !tok.WaitTimeout(m.cfg.ConnectTimeout) || tok.Error() != nil {
					log.Error("subscribe to "+s.what+" failed; reconnecting", "filter", s.filter, "err", tok.Error())
					// Drop the connection so that the next one subscribes
					// again; the session keeps what the broker holds.
					go c.Disconnect(0)
					return
				}
			}
			// A new connection starts with a clean probe record.
			m.probeSeen.Store(m.probeSent.Load())
			m.connected.Store(true)
			log.Info("MQTT intake connected", "broker", m.cfg.URL, "client_id", m.cfg.ClientID, "filter", m.filter)
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			m.connected.Store(false)
			log.Warn("MQTT intake connection lost", "broker", m.cfg.URL, "client_id", m.cfg.ClientID, "err", err)
		})
}

// watch publishes a probe every ProbeInterval and returns when ctx is
// done, or when ProbeMisses probes in a row have not come back although
// the client was connected: the session no longer receives.
func (m *MQTT) watch(ctx context.Context, c paho.Client) {
	if m.cfg.ProbeInterval < 0 {
		<-ctx.Done()
		return
	}
	tick := time.NewTicker(m.cfg.ProbeInterval)
	defer tick.Stop()
	topic := m.cfg.ProbeTopic()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !c.IsConnectionOpen() || m.submitting.Load() {
			// Not connected, or the handler waits for the pipeline and the
			// probes wait behind it: no evidence either way, so the count
			// starts again. (A session taken over during back-pressure is
			// noticed once the pipeline moves again; /readyz is false
			// meanwhile anyway, from the sink.)
			m.probeSeen.Store(m.probeSent.Load())
			continue
		}
		sent, seen := m.probeSent.Load(), m.probeSeen.Load()
		if sent-seen > uint64(m.cfg.ProbeMisses) {
			m.connected.Store(false)
			m.cfg.Logger.Error("MQTT intake receives nothing (session taken over by another client, or its subscription lost); connecting afresh",
				"broker", m.cfg.URL, "client_id", m.cfg.ClientID, "probes_missed", sent-seen)
			return
		}
		n := m.probeSent.Add(1)
		c.Publish(topic, 1, false, strconv.FormatUint(n, 10))
	}
}

// handleProbe records a probe that came back.
func (m *MQTT) handleProbe(_ paho.Client, msg paho.Message) {
	defer msg.Ack()
	n, err := strconv.ParseUint(string(msg.Payload()), 10, 64)
	if err != nil || n > m.probeSent.Load() {
		return
	}
	for {
		seen := m.probeSeen.Load()
		if n <= seen || m.probeSeen.CompareAndSwap(seen, n) {
			return
		}
	}
}

// handleStatus passes a gateway's status to OnStatus, after the same
// check as for batches: the gateway in the message must be the topic's.
func (m *MQTT) handleStatus(_ paho.Client, msg paho.Message) {
	defer msg.Ack()
	if st, ok := decodeStatus(m.cfg.Topics, msg.Topic(), msg.Payload(), m.cfg.Logger); ok {
		m.cfg.OnStatus(st)
	}
}

// handle passes one message to the pipeline. It is called by paho in
// arrival order and may block while the pipeline's queue is full.
func (m *MQTT) handle(ctx context.Context, c paho.Client, msg paho.Message) {
	topic := msg.Topic()
	gw, kind, err := m.cfg.Topics.Gateway(topic)
	if err != nil || kind != "up" {
		// Not a batch topic: the subscription cannot deliver one, but do
		// not let it sit unacknowledged in the session.
		m.cfg.Logger.Warn("message on an unexpected topic dropped", "topic", topic)
		msg.Ack()
		return
	}
	j := service.Job{Transport: "mqtt", Topic: topic, Gateway: gw, Payload: msg.Payload()}
	j.Done = func(r service.Result) {
		if r.HasAck && c.IsConnectionOpen() {
			// Not waited for: the PUBACK is read by the goroutine that
			// may be blocked in this handler. Not queued while the
			// connection is down either (paho would resend it from its
			// store on reconnect, racing its own writer): acks are
			// cumulative, and the gateway's resend gets a fresh one.
			c.Publish(m.cfg.Topics.Ack(r.Ack.Gateway), 1, false, wire.EncodeAck(r.Ack))
		}
		var inv *service.InvalidError
		if r.Err == nil || errors.As(r.Err, &inv) {
			msg.Ack()
		}
	}
	m.submitting.Store(true)
	err = m.svc.Submit(ctx, j)
	m.submitting.Store(false)
	if err != nil {
		m.cfg.Logger.Debug("batch not taken (stopping)", "topic", topic, "err", err)
	}
}
