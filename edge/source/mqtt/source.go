package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/backoff"
	"github.com/ponte-city/ponte/wire"
)

// Source reads MQTT devices: one paho client per broker, each profile's
// topic filter subscribed once, messages dispatched to devices by the
// device ID in the payload. Create it with New; Run it once.
type Source struct {
	cfg     Config
	brokers []*broker
	ran     atomic.Bool
}

var _ source.Source = (*Source)(nil)

// New validates cfg and returns a Source ready to Run.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	brokers, err := plan(c.Devices)
	if err != nil {
		return nil, err
	}
	for _, b := range brokers {
		b.log = c.Logger.With("broker", b.addr.display)
		b.m = c.BrokerMetrics
		b.m.Connected.WithLabelValues(b.addr.display).Set(0)
		b.m.Subscribed.WithLabelValues(b.addr.display).Set(0)
	}
	return &Source{cfg: c, brokers: brokers}, nil
}

// emitter serializes emits and stops them for good when Run returns, since
// paho may still run message handlers after Disconnect.
type emitter struct {
	mu     sync.Mutex
	emit   source.Emitter
	closed bool
}

// send emits readings unless the source has stopped, and returns their
// Commit; ok is false once the source has stopped (nothing emitted).
func (e *emitter) send(rs []wire.Reading) (c source.Commit, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, false
	}
	return e.emit(rs), true
}

func (e *emitter) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
}

// Run connects to every broker and emits readings until ctx is cancelled.
// Broker outages never make it return: paho reconnects, and every new
// connection subscribes again. It returns nil after ctx is cancelled; it
// never emits after returning.
func (s *Source) Run(ctx context.Context, emit source.Emitter) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("mqtt source: Run called twice")
	}
	out := &emitter{emit: emit}
	start := time.Now()
	for _, b := range s.brokers {
		for _, d := range b.devices {
			d.heard(start) // silence is counted from the start
		}
		onConnect := func(c paho.Client) {
			b.connected()
			b.subscribe(ctx, c)
		}
		b.client = paho.NewClient(b.options(&s.cfg, func(_ paho.Client, msg paho.Message) { s.handle(ctx, b, out, msg) }, onConnect))
		b.client.Connect() // completes in the background (ConnectRetry)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.watch(ctx, out)
	}()
	<-ctx.Done()
	for _, b := range s.brokers {
		b.client.Disconnect(250)
		b.m.Connected.WithLabelValues(b.addr.display).Set(0)
		b.m.Subscribed.WithLabelValues(b.addr.display).Set(0)
	}
	out.close()
	wg.Wait()
	return nil
}

// handle maps one message and emits its readings. It runs in its own
// goroutine per message (OrderMatters false) and acknowledges the message
// once it is done with it: its readings durable (see deliver), or dropped
// for good.
func (s *Source) handle(ctx context.Context, b *broker, out *emitter, msg paho.Message) {
	received := time.Now()
	topic, payload := msg.Topic(), msg.Payload()
	b.m.Messages.WithLabelValues(b.addr.display).Inc()
	drop := func(reason string, args ...any) {
		b.m.Dropped.WithLabelValues(b.addr.display, reason).Inc()
		b.log.Debug("mqtt message dropped", append([]any{"reason", reason, "topic", topic}, args...)...)
		msg.Ack()
	}
	if err := checkObject(topic, payload); err != nil {
		if d := b.topicOnly(topic); d != nil {
			// Without a device_id path the topic alone says whose it is.
			s.heard(d, received)
			s.cfg.Metrics.Error(d.Name, "payload")
			if d.newProblem(err.Error()) {
				b.log.Warn("mqtt payload problem", "device", d.Name, "err", err)
			}
		}
		drop("bad_payload", "err", err)
		return
	}
	d, id, reason := b.dispatch(topic, payload)
	if d == nil {
		drop(reason, "device_id", id)
		return
	}
	m, err := mapValid(d.prof, topic, payload, received)
	if err != nil { // cannot happen after dispatch found the device; kept for safety
		drop("bad_payload", "device", d.Name, "err", err)
		return
	}
	if _, _, tp, _ := d.prof.Defaults(); msg.Retained() && (tp == "" || m.TimeIssue == TimeAbsent || m.TimeIssue == TimeUnparsable) {
		// A retained message is the device's last value, of unknown age:
		// stamped with the receipt time it would show stale data as fresh.
		drop("retained_without_time", "device", d.Name)
		return
	}
	s.heard(d, received)
	d.uplinked(topic, m.Readings)
	log := b.log.With("device", d.Name)
	s.account(d, m, log)
	if m.Empty {
		log.Debug("mqtt empty uplink", "topic", topic)
		msg.Ack()
		return
	}
	for i := range m.Readings {
		m.Readings[i].Device = d.Name
	}
	deliver(ctx, b, out, msg, m.Readings, log)
}

// Retry bounds for emitting again the readings of a message whose Commit
// failed.
const (
	retryBase = time.Second
	retryMax  = 30 * time.Second
)

// deliver emits a message's readings and acknowledges the message only
// once their Commit reports them durable. A failed Commit (disk failing,
// buffer full) leaves the message unacknowledged and emits the readings
// again after a backoff, until they are durable or the source stops.
// Waiting for the broker's redelivery instead would not do: a broker
// resends unacknowledged messages only on a new connection (MQTT 3.1.1
// 4.4; Mosquitto 2 offers no in-session resend), and the unacknowledged ones
// fill its in-flight window (max_inflight_messages), after which it sends
// this client nothing more. When the source stops first, or the agent
// dies, the message stays unacknowledged and the persistent session gets
// it again on the next connection.
func deliver(ctx context.Context, b *broker, out *emitter, msg paho.Message, rs []wire.Reading, log *slog.Logger) {
	for attempt := 0; ; attempt++ {
		c, ok := out.send(rs)
		if !ok {
			return // stopped: not acknowledged, the broker sends it again
		}
		err := source.Wait(ctx, c)
		if err == nil {
			if b.commitsFailing.Swap(false) {
				log.Info("mqtt readings durable again; acknowledging messages")
			}
			msg.Ack()
			log.Debug("mqtt message acknowledged", "topic", msg.Topic(), "message_id", msg.MessageID(), "attempts", attempt+1)
			return
		}
		if ctx.Err() != nil {
			return // stopping: the readings' fate is unknown, so no ack
		}
		b.m.NotDurable.WithLabelValues(b.addr.display).Inc()
		wait := backoff.Policy{Base: retryBase, Max: retryMax}.Wait(attempt)
		if !b.commitsFailing.Swap(true) {
			log.Warn("mqtt readings not durable; message not acknowledged, emitting again", "err", err, "retry_in", wait.String())
		} else {
			log.Debug("mqtt readings not durable", "topic", msg.Topic(), "attempt", attempt+1, "err", err, "retry_in", wait.String())
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// account updates the device's metrics for a mapped message and logs
// problems: each new one at Warn, its end at Info, the rest at Debug.
func (s *Source) account(d *device, m Mapped, log *slog.Logger) {
	pm, bm := s.cfg.Metrics, d.broker.m
	for _, name := range m.Missing {
		bm.FieldsMissing.WithLabelValues(d.Name, name).Inc()
	}
	if m.TimeIssue != TimeOK {
		bm.TimeIssues.WithLabelValues(d.Name, string(m.TimeIssue)).Inc()
	}
	problem, good := "", false
	for _, r := range m.Readings {
		if pm != nil {
			pm.Readings.WithLabelValues(d.Name, r.Quality.String()).Inc()
		}
		if r.Quality.Good() {
			good = true
		} else if problem == "" {
			problem = r.Reason
		}
	}
	if problem != "" {
		pm.Error(d.Name, "decode")
	}
	if good || m.Empty {
		pm.Good(d.Name, time.Now())
	}
	changed := d.newProblem(problem)
	switch {
	case changed && problem != "":
		log.Warn("mqtt payload problem", "reason", problem, "readings", len(m.Readings))
	case changed:
		log.Info("mqtt payload good again", "readings", len(m.Readings))
	default:
		log.Debug("mqtt message", "readings", len(m.Readings), "missing", m.Missing, "time_issue", string(m.TimeIssue), "problem", problem)
	}
}

// heard notes a message from d, clearing a reported silence.
func (s *Source) heard(d *device, at time.Time) {
	if d.heard(at) {
		s.setSilent(d, false)
		d.broker.log.Info("mqtt device heard again", "device", d.Name)
	}
}

// setSilent records a device's silence for metrics.
func (s *Source) setSilent(d *device, silent bool) {
	v := 0.0
	if silent {
		v = 1
	}
	d.broker.m.Silent.WithLabelValues(d.Name).Set(v)
}

// SilentAfter is how many expected intervals a device may stay quiet
// before it is reported silent. LoRaWAN loses single uplinks routinely
// (collisions, a gateway briefly down), two in a row now and then; three is
// a device, its battery or its coverage in trouble.
const SilentAfter = 3

// watch reports devices silent for more than SilentAfter intervals: once
// per silence, with a Warn, the device's up gauge at 0, an error of kind
// "silent" and a bad_comm reading per field, so the twin shows why the
// values stopped. Devices with no Interval are never reported.
func (s *Source) watch(ctx context.Context, out *emitter) {
	var shortest time.Duration
	for _, b := range s.brokers {
		for _, d := range b.devices {
			if d.Interval > 0 && (shortest == 0 || d.Interval < shortest) {
				shortest = d.Interval
			}
		}
	}
	if shortest == 0 {
		return
	}
	tick := time.NewTicker(min(max(shortest/4, 50*time.Millisecond), 30*time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, b := range s.brokers {
				for _, d := range b.devices {
					if rs := s.checkSilent(d, now); rs != nil {
						out.send(rs)
					}
				}
			}
		}
	}
}

// checkSilent returns the bad_comm readings to emit when d has just become
// silent at now, nil otherwise.
func (s *Source) checkSilent(d *device, now time.Time) []wire.Reading {
	if d.Interval <= 0 {
		return nil
	}
	limit := SilentAfter * d.Interval
	d.mu.Lock()
	last := d.lastHeard
	became := !d.silent && now.Sub(last) > limit
	if became {
		d.silent = true
	}
	d.mu.Unlock()
	if !became {
		return nil
	}
	reason := fmt.Sprintf("no message for %s (expected every %s)", now.Sub(last).Round(time.Second), d.Interval)
	if down, since := d.broker.down(); down {
		if since.IsZero() {
			reason += "; broker " + d.broker.addr.display + " not reached since start"
		} else {
			reason += "; broker " + d.broker.addr.display + " disconnected since " + since.UTC().Format(time.RFC3339)
		}
	}
	s.setSilent(d, true)
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.Success.WithLabelValues(d.Name).Set(0)
		s.cfg.Metrics.Error(d.Name, "silent")
	}
	d.broker.log.Warn("mqtt device silent", "device", d.Name, "reason", reason)
	rs := make([]wire.Reading, 0, len(d.prof.Fields))
	for _, f := range d.prof.Fields {
		rs = append(rs, wire.Reading{Device: d.Name, Point: f.Name, Unit: f.Unit, Time: now, Quality: wire.QualityBadComm, Reason: reason})
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.Readings.WithLabelValues(d.Name, wire.QualityBadComm.String()).Add(float64(len(rs)))
	}
	return rs
}
