package uplink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/wire"
)

// conn is one MQTT connection: a fresh paho client per connection, so no
// state of a dead one (queued publishes, message IDs) leaks into the next.
type conn struct {
	client paho.Client
	// lost receives the error of paho's ConnectionLostHandler.
	lost chan error
	// subscribed receives the ack subscription's outcome from the
	// OnConnect handler.
	subscribed chan error
}

// options builds the paho options. The choices, and why:
//   - CleanSession: the buffer, not the broker's session, is the source of
//     truth. Every connection resends from the oldest unacknowledged
//     record, so a persistent session would only add broker-side queues
//     and paho-side redeliveries of what is resent anyway. Acks published
//     while the gateway is away are lost; the resend brings fresh ones.
//   - AutoReconnect and ConnectRetry off: Run reconnects itself with full
//     jitter (paho's own backoff is deterministic), and starts each
//     connection from the buffer.
//   - The ack subscription is made in OnConnect, so any connection, also
//     one a future paho option might make, is subscribed before use.
//   - The will is the "offline" status, retained, QoS 1.
//   - ProtocolVersion 4 (MQTT 3.1.1) explicitly, so a refused connection
//     is not tried again as 3.1.
func (f *Forwarder) options(c *conn) *paho.ClientOptions {
	will := f.statusMsg(wire.StateOffline, nil)
	o := paho.NewClientOptions().
		AddBroker(f.broker).
		SetClientID(f.cfg.ClientID).
		SetUsername(f.cfg.Username).
		SetPassword(f.password()).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetProtocolVersion(4).
		SetKeepAlive(f.cfg.KeepAlive).
		SetPingTimeout(min(f.cfg.KeepAlive, 10*time.Second)).
		SetConnectTimeout(f.cfg.ConnectTimeout).
		SetWriteTimeout(f.cfg.ConnectTimeout).
		SetDialer(&net.Dialer{Timeout: f.cfg.ConnectTimeout}).
		SetBinaryWill(f.status, will, 1, true).
		SetOnConnectHandler(func(cl paho.Client) {
			err := f.subscribeAll(cl)
			select {
			case c.subscribed <- err:
			default:
			}
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		})
	if f.cfg.TLS != nil {
		o.SetTLSConfig(f.cfg.TLS)
	}
	return o
}

// ackQoS is the QoS of the ack subscription (Config.AckQoS0).
func (f *Forwarder) ackQoS() byte {
	if f.cfg.AckQoS0 {
		return 0
	}
	return 1
}

// subscribe subscribes to topic with qos and checks the broker granted
// it (0x80 is a refusal, e.g. by an ACL).
func subscribe(cl paho.Client, topic string, qos byte, timeout time.Duration, h paho.MessageHandler) error {
	tok := cl.Subscribe(topic, qos, h)
	if !tok.WaitTimeout(timeout) {
		return fmt.Errorf("subscribe to %s: no SUBACK within %s", topic, timeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("subscribe to %s: %w", topic, err)
	}
	if st, ok := tok.(*paho.SubscribeToken); ok {
		if q, ok := st.Result()[topic]; ok && q >= 0x80 {
			return fmt.Errorf("subscribe to %s: refused by the broker (return code 0x%02x)", topic, q)
		}
	}
	return nil
}

// connect opens a connection, waits for the ack subscription and
// publishes the retained "online" status. On failure nothing is left
// running.
func (f *Forwarder) connect(ctx context.Context) (*conn, error) {
	c := &conn{lost: make(chan error, 1), subscribed: make(chan error, 1)}
	c.client = paho.NewClient(f.options(c))
	tok := c.client.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		// Paho bounds the attempt by ConnectTimeout; wait for it so that a
		// connection completing late is not left running.
		<-tok.Done()
		c.client.Disconnect(0)
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", f.broker, err)
	}
	fail := func(err error) (*conn, error) {
		c.client.Disconnect(0)
		return nil, err
	}
	t := time.NewTimer(f.cfg.ConnectTimeout + time.Second)
	defer t.Stop()
	select {
	case err := <-c.subscribed:
		if err != nil {
			return fail(err)
		}
	case err := <-c.lost:
		return fail(fmt.Errorf("connection to %s lost while subscribing: %w", f.broker, err))
	case <-t.C:
		return fail(fmt.Errorf("subscribe to %s: OnConnect did not report within %s", f.ack, f.cfg.ConnectTimeout))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	online := f.statusMsg(wire.StateOnline, f.health())
	if err := waitToken(ctx, c.client.Publish(f.status, 1, true, online), f.cfg.ConnectTimeout); err != nil {
		return fail(fmt.Errorf("publish online status to %s: %w", f.status, err))
	}
	return c, nil
}

// goOffline publishes the retained "offline" status and disconnects
// cleanly (so the broker discards the will), within shutdownTimeout.
func (f *Forwarder) goOffline(c *conn) {
	offline := f.statusMsg(wire.StateOffline, nil)
	err := waitToken(context.Background(), c.client.Publish(f.status, 1, true, offline), shutdownTimeout)
	if err != nil {
		f.log.Warn("uplink offline status not published", "err", err)
	}
	c.client.Disconnect(250)
	f.log.Info("uplink stopped", "broker", f.broker)
}

// statusMsg is the status message in state, with the lowest sequence
// number the buffer still holds (see wire.Status.Retained) and h (nil in
// the will and the offline status: the last health published stays the
// last known).
func (f *Forwarder) statusMsg(state string, h *wire.Health) []byte {
	return wire.EncodeStatus(wire.Status{Gateway: f.cfg.Gateway, State: state, Time: time.Now().UTC(), Version: f.cfg.Version,
		Epoch: f.epoch, Retained: f.buf.Stats().FirstSeq, Health: h})
}

// password is the password for a new connection: PasswordFile's content
// now, or Password.
func (f *Forwarder) password() string {
	if f.cfg.PasswordFile == "" {
		return f.cfg.Password
	}
	data, err := os.ReadFile(f.cfg.PasswordFile)
	pw := strings.TrimRight(string(data), "\r\n")
	if err != nil || pw == "" {
		f.log.Warn("uplink password file unreadable; connecting with the password read at start", "file", f.cfg.PasswordFile, "err", err)
		return f.cfg.Password
	}
	return pw
}

// errTokenTimeout is returned by waitToken when paho did not finish in
// time.
var errTokenTimeout = errors.New("no answer from the broker in time")

// waitToken waits for a paho token, bounded by ctx and timeout.
func waitToken(ctx context.Context, tok paho.Token, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-t.C:
		return fmt.Errorf("%w (%s)", errTokenTimeout, timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}
