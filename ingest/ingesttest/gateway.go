package ingesttest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/ingest/intake"
	"github.com/ponte-city/ponte/internal/backoff"
	"github.com/ponte-city/ponte/wire"
)

// Base is the time of reading 0 in generated batches: an hour boundary
// one to two hours ago, so that a million readings a millisecond apart
// stay in the past.
var Base = time.Now().UTC().Add(-time.Hour).Truncate(time.Hour)

// ReadingFor returns the reading with sequence number seq of a generated
// stream: 10 devices, values of each kind in turn, one millisecond apart,
// so every (device, point, time) is unique.
func ReadingFor(seq uint64) wire.Reading {
	r := wire.Reading{
		Device: "dev" + strconv.FormatUint(seq%10, 10),
		Point:  "p" + strconv.FormatUint(seq%4, 10),
		Unit:   "V",
		Time:   Base.Add(time.Duration(seq) * time.Millisecond),
	}
	switch seq % 4 {
	case 0:
		r.Value = wire.Float(float64(seq) + 0.5)
	case 1:
		r.Value = wire.Int(int64(seq) << 20)
	case 2:
		r.Value = wire.Bool(seq%8 == 2)
	case 3:
		r.Value = wire.String("s" + strconv.FormatUint(seq, 10))
	}
	return r
}

// BatchFor returns the encoded batch of seqs [first, last] of gateway.
func BatchFor(gateway string, epoch, first, last uint64) []byte {
	return BatchRetaining(gateway, epoch, first, last, 0)
}

// BatchRetaining is BatchFor with the gateway's declaration that it holds
// nothing below retained (wire.Batch.Retained; 0: not stated).
func BatchRetaining(gateway string, epoch, first, last, retained uint64) []byte {
	b := &wire.Batch{Gateway: gateway, Epoch: epoch, Retained: retained}
	for s := first; s <= last; s++ {
		b.Seqs = append(b.Seqs, s)
		b.Readings = append(b.Readings, ReadingFor(s))
	}
	data, err := wire.Encode(nil, b)
	if err != nil {
		panic(fmt.Sprintf("ingesttest: encode generated batch: %v", err)) // generated input; a bug in this package
	}
	return data
}

// Connect connects a paho client to url (waiting up to 10s).
func Connect(url, clientID, user, password string) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(clientID).SetStore(intake.MemoryStore()).
		SetUsername(user).SetPassword(password).SetAutoReconnect(true).
		SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).
		SetMaxReconnectInterval(500 * time.Millisecond).SetCleanSession(true)
	c := mqtt.NewClient(o)
	t := c.Connect()
	if !t.WaitTimeout(10 * time.Second) {
		c.Disconnect(0)
		return nil, fmt.Errorf("connect %s as %s: timeout", url, clientID)
	}
	if err := t.Error(); err != nil {
		return nil, fmt.Errorf("connect %s as %s: %w", url, clientID, err)
	}
	return c, nil
}

// Gateway publishes generated batches of one gateway and resends from the
// last acknowledged seq when acknowledgements stall, as the edge
// forwarder does.
type Gateway struct {
	ID     string
	Epoch  uint64
	Topics wire.Topics
	// ClientID is the MQTT client ID (default ID; the edge's uplink logs
	// in as "ponte-edge-" + ID).
	ClientID string
	// Batch is the number of readings per batch (default 100).
	Batch uint64
	// Window is the number of unacknowledged batches in flight (default 4).
	Window uint64
	// Pipeline publishes as edge/uplink's sender does: only once the ack
	// subscription is granted (an ack sent before it exists is lost, and
	// the gateway waits ResendAfter), and the whole window without
	// waiting for each PUBACK. Without it each publish waits for its
	// PUBACK (at most 200ms) before the next, which bounds a gateway to
	// one batch per broker round trip (on nats-server, a PUBACK follows a
	// replicated JetStream store).
	Pipeline bool
	// ResendAfter is how long without ack progress before resending
	// (default 2s).
	ResendAfter time.Duration
	// Payload, if set, returns the encoded batch of seqs [first, last]
	// instead of BatchFor (benchmarks pass pre-encoded batches).
	Payload func(first, last uint64) []byte
	// Rewind resends from the oldest unacknowledged seq as soon as the ack
	// subscription of a new connection is granted, as edge/uplink does on
	// every connection, instead of waiting ResendAfter.
	Rewind bool
	// Retry, if set, paces the attempts at the ack subscription that the
	// broker refuses or leaves unanswered, as edge/uplink's reconnection
	// backoff does (full jitter from 1s up to 60s by default); without it
	// the gateway tries again every 100ms, which a broker creating a
	// consumer per subscription (nats-server) may be refusing in a storm.
	Retry *backoff.Policy
	// AckQoS0 subscribes to the acks at QoS 0 (edge/uplink's AckQoS0).
	AckQoS0 bool
	// OnConnect and OnSubscribed, if set, are called when a connection
	// (reconnections included) is made and when its ack subscription is
	// granted: for tests that time how long gateways take to come back.
	OnConnect, OnSubscribed func()

	mu    sync.Mutex
	acked uint64
	kick  chan struct{}
	sent  int
	// subscribed: the last ack subscription was granted; refused counts
	// the attempts that were not.
	subscribed bool
	refused    int
	// rewind: a new connection's subscription was granted and Rewind is
	// set; Run starts again from the oldest unacknowledged seq.
	rewind bool
}

// Acked returns the highest acknowledged seq.
func (g *Gateway) Acked() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.acked
}

// Sent returns the number of batches published (resends included).
func (g *Gateway) Sent() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sent
}

// Connect connects the gateway to the broker at url with its ClientID and
// its ID as username; it subscribes to its ack topic on every connection
// (the session is clean, as a restarted broker would have forgotten it).
func (g *Gateway) Connect(url, password string) (mqtt.Client, error) {
	return g.ConnectAny([]string{url}, password)
}

// ConnectAny is Connect to the first of urls that answers, as a gateway
// given every node of a cluster: each reconnection tries them again in
// order, so a gateway whose node died moves to the next.
func (g *Gateway) ConnectAny(urls []string, password string) (mqtt.Client, error) {
	g.mu.Lock()
	if g.kick == nil {
		g.kick = make(chan struct{}, 1)
	}
	g.mu.Unlock()
	ackTopic := g.Topics.Ack(g.ID)
	onAck := func(_ mqtt.Client, m mqtt.Message) {
		a, err := wire.DecodeAck(m.Payload())
		if err != nil || a.Gateway != g.ID || a.Epoch != g.Epoch {
			return
		}
		g.mu.Lock()
		if a.Seq > g.acked {
			g.acked = a.Seq
		}
		g.mu.Unlock()
		select {
		case g.kick <- struct{}{}:
		default:
		}
	}
	o := mqtt.NewClientOptions()
	for _, url := range urls {
		o.AddBroker(url)
	}
	clientID := g.ClientID
	if clientID == "" {
		clientID = g.ID
	}
	o.SetClientID(clientID).
		SetUsername(g.ID).SetPassword(password).SetAutoReconnect(true).
		SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).
		SetMaxReconnectInterval(500 * time.Millisecond).SetCleanSession(true).
		SetStore(intake.MemoryStore()).
		SetOnConnectHandler(func(c mqtt.Client) { g.subscribe(c, ackTopic, onAck) })
	c := mqtt.NewClient(o)
	t := c.Connect()
	if !t.WaitTimeout(10 * time.Second) {
		c.Disconnect(0)
		return nil, fmt.Errorf("gateway %s: connect %s: timeout", g.ID, strings.Join(urls, ","))
	}
	if err := t.Error(); err != nil {
		return nil, fmt.Errorf("gateway %s: connect %s: %w", g.ID, strings.Join(urls, ","), err)
	}
	return c, nil
}

// subscribe subscribes c to the ack topic, trying again while the broker
// refuses as long as c is connected. The edge uplink does not run
// without its ack subscription either (it drops the connection and makes
// a new one): a gateway that went on publishing unsubscribed would never
// see an ack again.
//
// Until the subscription of a new connection is granted the gateway counts
// as unsubscribed, so that a pipelined gateway does not publish on a
// reconnection before its acks have a subscriber.
func (g *Gateway) subscribe(c mqtt.Client, topic string, onAck mqtt.MessageHandler) {
	g.mu.Lock()
	g.subscribed = false
	g.mu.Unlock()
	if g.OnConnect != nil {
		g.OnConnect()
	}
	for attempt := 0; c.IsConnectionOpen(); attempt++ {
		timeout := time.Minute
		if g.Retry != nil {
			timeout = 0 // one attempt, then the policy's pause
		}
		qos := byte(1)
		if g.AckQoS0 {
			qos = 0
		}
		refused, err := SubscribeQoS(c, topic, qos, onAck, timeout)
		if err != nil && g.Retry != nil {
			time.Sleep(g.Retry.Wait(attempt)) // the edge's backoff, not a wait for a condition
		}
		g.mu.Lock()
		g.subscribed = err == nil
		g.rewind = g.rewind || (err == nil && g.Rewind)
		g.refused += refused
		g.mu.Unlock()
		if err == nil {
			if g.OnSubscribed != nil {
				g.OnSubscribed()
			}
			select {
			case g.kick <- struct{}{}:
			default:
			}
			return
		}
	}
}

// Subscribe subscribes c to topic at QoS 1 and tries again while the
// broker refuses (SUBACK 0x80) or does not answer, until it is granted, c
// is disconnected or timeout passed; it returns how many attempts were
// refused. nats-server refuses a QoS 1 subscription whose JetStream
// consumer it could not create within its API timeout (5 s), as while a
// loaded cluster starts or fails over after a node died.
func Subscribe(c mqtt.Client, topic string, h mqtt.MessageHandler, timeout time.Duration) (refused int, err error) {
	return SubscribeQoS(c, topic, 1, h, timeout)
}

// SubscribeQoS is Subscribe at qos.
func SubscribeQoS(c mqtt.Client, topic string, qos byte, h mqtt.MessageHandler, timeout time.Duration) (refused int, err error) {
	deadline := time.Now().Add(timeout)
	for {
		tok := c.Subscribe(topic, qos, h)
		switch {
		case !tok.WaitTimeout(10 * time.Second):
			err = fmt.Errorf("subscribe to %s: no SUBACK within 10s", topic)
		case tok.Error() != nil:
			err = fmt.Errorf("subscribe to %s: %w", topic, tok.Error())
		default:
			err = nil
			if st, ok := tok.(*mqtt.SubscribeToken); ok {
				if q, ok := st.Result()[topic]; !ok || q >= 0x80 {
					err = fmt.Errorf("subscribe to %s: refused (SUBACK %#x)", topic, q)
				}
			}
		}
		if err == nil {
			return refused, nil
		}
		refused++
		if !c.IsConnectionOpen() || time.Now().After(deadline) {
			return refused, err
		}
		time.Sleep(100 * time.Millisecond) // a pause between attempts, not a wait for a condition
	}
}

func (g *Gateway) isSubscribed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.subscribed
}

// Subscribed reports whether the last subscription to the ack topic was
// granted, and how many attempts the broker refused or left unanswered.
func (g *Gateway) Subscribed() (ok bool, refused int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.subscribed, g.refused
}

// Run publishes seqs 1..total through c (from Connect) and returns when
// all are acknowledged, or with an error when ctx ends first.
func (g *Gateway) Run(ctx context.Context, c mqtt.Client, total uint64) error {
	if g.Batch == 0 {
		g.Batch = 100
	}
	if g.Window == 0 {
		g.Window = 4
	}
	if g.ResendAfter == 0 {
		g.ResendAfter = 2 * time.Second
	}
	next := uint64(1)
	lastProgress := time.Now()
	lastAcked := uint64(0)
	for {
		acked := g.Acked()
		if acked >= total {
			return nil
		}
		if acked > lastAcked {
			lastAcked, lastProgress = acked, time.Now()
		}
		if next <= acked {
			next = acked + 1
		}
		g.mu.Lock()
		rewind := g.rewind
		g.rewind = false
		g.mu.Unlock()
		if rewind || time.Since(lastProgress) > g.ResendAfter {
			next, lastProgress = acked+1, time.Now()
		}
		for next <= total && next <= acked+g.Window*g.Batch && c.IsConnectionOpen() && (!g.Pipeline || g.isSubscribed()) {
			last := min(next+g.Batch-1, total)
			var payload []byte
			if g.Payload != nil {
				payload = g.Payload(next, last)
			} else {
				payload = BatchFor(g.ID, g.Epoch, next, last)
			}
			pt := c.Publish(g.Topics.Up(g.ID), 1, false, payload)
			// A pipelined publish that fails shows as acks stalling:
			// ResendAfter sends it again.
			if !g.Pipeline && (!pt.WaitTimeout(200*time.Millisecond) || pt.Error() != nil) {
				break // disconnected: try again after a pause
			}
			g.mu.Lock()
			g.sent++
			g.mu.Unlock()
			next = last + 1
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gateway %s: acked %d of %d: %w", g.ID, g.Acked(), total, ctx.Err())
		case <-g.kick:
		case <-time.After(100 * time.Millisecond):
		}
	}
}
