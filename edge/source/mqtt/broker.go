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

	"github.com/ponte-city/ponte/internal/backoff"
)

// subscribeTimeout bounds one SUBSCRIBE round trip.
const subscribeTimeout = 10 * time.Second

// connState is a broker connection's state as the logs tell it.
type connState int

const (
	stateStarting connState = iota // never connected yet
	stateUp
	stateDown // was up, lost
)

// broker is one broker connection (one paho client) and the devices that
// publish through it.
type broker struct {
	addr    brokerAddr
	routes  []*route
	filters []string // distinct topic filters, each subscribed once
	devices []*device

	log    *slog.Logger
	m      *Metrics
	client paho.Client

	mu        sync.Mutex
	state     connState
	downSince time.Time
	failures  int // failed connection attempts in the current state

	// commitsFailing is true while the last Commit of a message's
	// readings failed, so the change is logged once each way.
	commitsFailing atomic.Bool
}

// options builds the paho options. The choices, and why:
//   - AutoReconnect and ConnectRetry: a gateway must never give up on its
//     broker, neither at start (the broker may boot later) nor after a loss.
//   - CleanSession false with a stable client ID: while the gateway's link
//     is down the broker keeps the subscriptions and queues QoS 1 uplinks.
//   - Subscribing in the OnConnect handler, on every connection: a broker
//     that restarted without persistence has forgotten the session, and a
//     client that subscribed once at start stays connected but deaf (the
//     known failure of other gateways). Re-subscribing to a live session is
//     harmless.
//   - OrderMatters false: each message is handled in its own goroutine,
//     which waits for its readings' Commit (up to the buffer's
//     SyncInterval) without stalling paho's router or keepalive; emits
//     are serialized by the source, and LoRaWAN uplinks of different
//     devices carry no order.
//   - AutoAckDisabled: a message is acknowledged (msg.Ack) only after its
//     readings' Commit reported them durable, so a gateway killed before
//     the fsync gets it again from the session. Paho drops an Ack made
//     after its connection was lost; the broker then resends the message
//     on the next connection (a duplicate, never a loss).
//   - No routes: SUBSCRIBE without callbacks sends every message, including
//     those a persistent session delivers before SUBSCRIBE, to the default
//     handler, which dispatches by topic and device ID.
func (b *broker) options(cfg *Config, onMessage paho.MessageHandler, onConnect paho.OnConnectHandler) *paho.ClientOptions {
	o := paho.NewClientOptions().
		AddBroker(b.addr.url).
		SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(min(2*time.Second, cfg.ReconnectMax)).
		SetMaxReconnectInterval(cfg.ReconnectMax).
		SetConnectTimeout(10 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetOrderMatters(false).
		SetAutoAckDisabled(true).
		SetDefaultPublishHandler(onMessage).
		SetOnConnectHandler(onConnect).
		SetConnectionLostHandler(b.lost).
		SetConnectionNotificationHandler(b.notified)
	if cfg.TLS != nil {
		o.SetTLSConfig(cfg.TLS)
	}
	return o
}

// connected records a (re)connection and logs it once.
func (b *broker) connected() {
	b.mu.Lock()
	prev, since := b.state, b.downSince
	b.state, b.failures = stateUp, 0
	b.mu.Unlock()
	b.m.Connected.WithLabelValues(b.addr.display).Set(1)
	switch prev {
	case stateStarting:
		b.log.Info("mqtt broker connected")
	case stateDown:
		b.log.Info("mqtt broker connection regained", "down_for", time.Since(since).Round(time.Millisecond).String())
	}
}

// lost is paho's ConnectionLostHandler. Paho calls it in a goroutine, so
// it may run after the reconnection it announces has already happened;
// then it is stale and only counted.
func (b *broker) lost(c paho.Client, err error) {
	b.m.ConnectionsLost.WithLabelValues(b.addr.display).Inc()
	if c.IsConnectionOpen() {
		return
	}
	b.mu.Lock()
	wasUp := b.state == stateUp
	if wasUp {
		b.state, b.downSince, b.failures = stateDown, time.Now(), 0
	}
	b.mu.Unlock()
	b.m.Connected.WithLabelValues(b.addr.display).Set(0)
	b.m.Subscribed.WithLabelValues(b.addr.display).Set(0)
	if wasUp {
		b.log.Warn("mqtt broker connection lost; reconnecting", "reason", errString(err))
	}
}

// notified receives paho's connection notifications; only failed attempts
// matter here. The first failure before any connection is a Warn (a wrong
// address or credentials must show); the rest are Debug, the loss having
// been logged already.
func (b *broker) notified(_ paho.Client, n paho.ConnectionNotification) {
	f, ok := n.(paho.ConnectionNotificationFailed)
	if !ok {
		return
	}
	b.mu.Lock()
	b.failures++
	first := b.state == stateStarting && b.failures == 1
	n2 := b.failures
	b.mu.Unlock()
	if first {
		b.log.Warn("mqtt broker unreachable; retrying", "reason", errString(f.Reason))
		return
	}
	b.log.Debug("mqtt broker connection attempt failed", "attempt", n2, "reason", errString(f.Reason))
}

// down reports whether the broker is disconnected, and since when.
func (b *broker) down() (bool, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state != stateUp, b.downSince
}

// subscribe subscribes every topic filter (QoS 1) on the connection just
// made, retrying with backoff while the connection stays up: a refused
// subscription leaves the gateway deaf, which must not last.
func (b *broker) subscribe(ctx context.Context, c paho.Client) {
	filters := make(map[string]byte, len(b.filters))
	for _, f := range b.filters {
		filters[f] = 1
	}
	for attempt := 0; ; attempt++ {
		err := subscribeOnce(ctx, c, filters)
		if err == nil {
			b.m.Subscribed.WithLabelValues(b.addr.display).Set(1)
			b.log.Info("mqtt subscribed", "filters", b.filters)
			return
		}
		b.m.Subscribed.WithLabelValues(b.addr.display).Set(0)
		wait := backoff.Policy{Base: time.Second, Max: 30 * time.Second}.Wait(attempt)
		b.log.Error("mqtt subscribe failed; no messages from this broker until it succeeds", "filters", b.filters, "err", err, "retry_in", wait.String())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if !c.IsConnectionOpen() {
			return // the next connection's OnConnect subscribes again
		}
	}
}

func subscribeOnce(ctx context.Context, c paho.Client, filters map[string]byte) error {
	tok := c.SubscribeMultiple(filters, nil)
	if err := waitToken(ctx, tok, subscribeTimeout); err != nil {
		return err
	}
	st, ok := tok.(*paho.SubscribeToken)
	if !ok {
		return nil
	}
	for f, code := range st.Result() {
		if code == 0x80 {
			return fmt.Errorf("broker refused the subscription to %q (check its ACL)", f)
		}
	}
	return nil
}

// waitToken waits for a paho token, bounded by ctx and timeout.
func waitToken(ctx context.Context, tok paho.Token, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errors.New("no answer from the broker within " + timeout.String())
	}
}

func errString(err error) string {
	if err == nil {
		return "unknown"
	}
	return err.Error()
}
