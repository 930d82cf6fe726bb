package uplink

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/wire"
)

// Defaults applied to zero fields of Config.
const (
	DefaultBatchMaxReadings = 1000
	DefaultBatchMaxBytes    = 256 << 10
	DefaultBatchMaxWait     = time.Second
	DefaultReplayBatch      = 5000
	DefaultReplayBatchBytes = 384 << 10
	DefaultWindow           = 16
	DefaultReplayWindow     = 32
	DefaultAckTimeout       = 30 * time.Second
	DefaultBackoffBase      = time.Second
	DefaultBackoffMax       = 60 * time.Second
	DefaultKeepAlive        = 30 * time.Second
	DefaultConnectTimeout   = 15 * time.Second
	DefaultStatusInterval   = 60 * time.Second
)

// Upper bounds that keep a mistyped value from exhausting an edge box.
const (
	maxBatchReadings = 100_000
	maxWindow        = 1024
)

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("invalid uplink config")

// Config configures a Forwarder. Zero fields take the defaults above;
// negative ones are an error.
type Config struct {
	// Gateway is the gateway ID (see wire.ValidGatewayID). It names the
	// topics and is the MQTT username unless Username is set.
	Gateway string
	// Broker is the broker URL: tcp://host:1883 (or mqtt://), ssl://,
	// tls://, mqtts:// for TLS, ws:// and wss:// for websockets.
	Broker string
	// ClientID is the MQTT client ID (default "ponte-edge-" + Gateway).
	ClientID string
	// Username and Password authenticate to the broker; Username defaults
	// to Gateway, Password may be empty (e.g. with mutual TLS).
	Username, Password string
	// PasswordFile, when set, is read at every connection attempt (trailing
	// newline trimmed) for the password, so that credentials rotated by
	// ponte-ctl enroll are used at the next reconnect without a restart;
	// Password is used while the file cannot be read.
	PasswordFile string
	// TLS is the TLS configuration for ssl/tls/mqtts/wss brokers (nil:
	// system roots, no client certificate). Build it with LoadTLS.
	TLS *tls.Config
	// Topics names the topics (empty Prefix: wire.DefaultPrefix).
	Topics wire.Topics
	// BatchMaxReadings caps the readings in one batch (default 1000).
	BatchMaxReadings int
	// BatchMaxBytes caps the buffer record bytes read into one batch
	// (default 256 KiB); the encoded batch is of the same order, and is
	// split if it would pass wire.MaxBatchBytes.
	BatchMaxBytes int
	// BatchMaxWait is how long a partial batch may wait for more readings
	// before it goes out (default 1s).
	BatchMaxWait time.Duration
	// ReplayBatchReadings and ReplayBatchBytes replace BatchMaxReadings and
	// BatchMaxBytes while the buffer holds more than two batches not yet
	// sent (a backlog after an outage): a replay drains at what is in
	// flight per round trip to InfluxDB, and larger batches carry more
	// (defaults 5,000 readings and 384 KiB, never below BatchMaxReadings
	// and BatchMaxBytes). A replay paced by ReplayRate keeps to
	// BatchMaxReadings. At 100k readings/s each group commit makes about
	// 10,000 readings durable at once, so replay batches are the agent's
	// everyday batches there, and what framing one holds (about 300 bytes
	// a reading: the read arena, the decoded readings, the encoder's
	// references) is live heap all the time: 10,000-reading batches held
	// 3 MB of the 10-11 MB live at 1,000 devices, under a memory limit of
	// 19.7 MiB, and the collector ran twice as often as with 5,000
	// (BenchmarkAgentFootprint/10x). ReplayWindow makes up the readings in
	// flight.
	ReplayBatchReadings, ReplayBatchBytes int
	// Window is how many published batches may await ingest's
	// acknowledgement at once (default 16). Ingest writes a gateway's
	// batches as they come while the earlier ones are in flight (ingest/
	// service trains), so the window is what one gateway can have in
	// InfluxDB's queue at once. 16 batches of 1,000 carry a gateway at
	// 100k readings/s over a 160 ms round trip (8 stalled it past 80 ms,
	// an LTE link under load), and give InfluxDB requests of fewer
	// gateways: eight gateways at full speed reached 0.956-0.995 of
	// InfluxDB's own rate through ingest over five runs (median 0.982),
	// against 0.95-0.96 with 8 (ingest/app BenchmarkPipelineInflux). It
	// costs the agent 16 ranges, and a resend after an ack timeout sends
	// at most 16 batches again.
	Window int
	// ReplayWindow replaces Window while replay batches are sent (default
	// 32, never below Window): ingest writes a gateway's waiting batches at
	// once (ingest/service trains), so a wider window keeps InfluxDB busy
	// through a backlog (32 batches of 5,000 readings: the 160,000 in
	// flight that 16 of 10,000 carried before the batches were halved).
	// The window holds only the batches' ranges; their payloads leave
	// with the publish.
	ReplayWindow int
	// AckTimeout is how long the oldest unacknowledged batch may wait for
	// its acknowledgement before everything from it on is sent again
	// (default 30s).
	AckTimeout time.Duration
	// AckQoS0 subscribes to the acks at QoS 0 instead of 1. The session is
	// clean either way, so an ack reaches the gateway only while it is
	// connected, and a batch whose ack was lost is sent again after
	// AckTimeout; on a NATS cluster a QoS 1 subscription costs one
	// replicated JetStream consumer per gateway, created at each connect.
	AckQoS0 bool
	// ReplayRate caps readings per second while catching up on a backlog
	// (0: no cap). It must exceed the gateway's live rate, or the backlog
	// never shrinks.
	ReplayRate float64
	// BackoffBase and BackoffMax bound the reconnect backoff (defaults 1s
	// and 60s): attempt n waits a uniformly random time in
	// [0, min(BackoffMax, BackoffBase*2^n)).
	BackoffBase, BackoffMax time.Duration
	// KeepAlive is the MQTT keepalive (default 30s); the broker publishes
	// the last will about 1.5 x KeepAlive after the link silently dies.
	KeepAlive time.Duration
	// ConnectTimeout bounds one connection attempt (default 15s).
	ConnectTimeout time.Duration
	// OnAck, when set, is called with every acknowledgement the
	// forwarder applies (Seq capped at what was sent), on paho's
	// goroutine, after the high-water mark moved; it must not block. With
	// it set, batches carry wire.FlagAckRefused, so that ingest reports in
	// Ack.Refused the readings it refused (an ingest that reads batch
	// version 3 is then required; see package wire).
	OnAck func(wire.Ack)
	// OnCommand, when set, makes every connection subscribe to the
	// gateway's command topic (Topics.Cmd) with QoS 1 and receives each
	// command's payload (a copy), undecoded, on paho's goroutine; it must
	// not block (the executor queues it). See PublishReport for the
	// answers.
	OnCommand func(payload []byte)
	// OnConnect, when set, is called on a goroutine of its own each time
	// a connection is up (subscribed, online status published), so that
	// reports not yet delivered are published again.
	OnConnect func()
	// Version is the agent's version, carried in the status message.
	Version string
	// StatusInterval is how often, while connected, the retained "online"
	// status is published again with the gateway's health (default 60s,
	// at least 1s): the fleet view's buffer depth and device counts are
	// at most this old.
	StatusInterval time.Duration
	// Devices, when set, counts the gateway's devices up and bad for the
	// status message's health (wire.Health). It is called from the
	// forwarder's own goroutine at each status, so it must be safe for
	// concurrent use and quick.
	Devices func() (up, bad int)
	// Logger receives state changes (nil: discard).
	Logger *slog.Logger
	// Registerer receives the metrics (nil: not registered).
	Registerer prometheus.Registerer
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.ClientID == "" {
		c.ClientID = "ponte-edge-" + c.Gateway
	}
	if c.Username == "" {
		c.Username = c.Gateway
	}
	if c.BatchMaxReadings == 0 {
		c.BatchMaxReadings = DefaultBatchMaxReadings
	}
	if c.BatchMaxBytes == 0 {
		c.BatchMaxBytes = DefaultBatchMaxBytes
	}
	if c.BatchMaxWait == 0 {
		c.BatchMaxWait = DefaultBatchMaxWait
	}
	if c.ReplayBatchReadings == 0 {
		c.ReplayBatchReadings = max(DefaultReplayBatch, c.BatchMaxReadings)
	}
	if c.ReplayBatchBytes == 0 {
		c.ReplayBatchBytes = max(DefaultReplayBatchBytes, c.BatchMaxBytes)
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.ReplayWindow == 0 {
		c.ReplayWindow = max(DefaultReplayWindow, c.Window)
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.BackoffBase == 0 {
		c.BackoffBase = DefaultBackoffBase
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = max(DefaultBackoffMax, c.BackoffBase)
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.StatusInterval == 0 {
		c.StatusInterval = DefaultStatusInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// brokerSchemes are the URL schemes paho dials, and whether they use TLS.
var brokerSchemes = map[string]bool{
	"tcp": false, "mqtt": false, "ws": false,
	"ssl": true, "tls": true, "mqtts": true, "mqtt+ssl": true, "tcps": true, "wss": true,
}

// Scheme reports whether paho dials a broker URL scheme (known) and
// whether it uses TLS (secure), case-insensitively.
func Scheme(scheme string) (secure, known bool) {
	secure, known = brokerSchemes[strings.ToLower(scheme)]
	return secure, known
}

// Validate checks c after defaults are applied, as New does. Every error
// wraps ErrConfig and names the field and what was expected.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...)))
	}
	if !wire.ValidGatewayID(c.Gateway) {
		bad("gateway", "%q is not a gateway ID (expected 1-64 letters, digits, '-', '_', '.')", c.Gateway)
	}
	if err := checkBroker(c.Broker, c.TLS != nil); err != "" {
		bad("broker", "%s", err)
	}
	if len(c.ClientID) > 65535 {
		bad("client_id", "%d bytes (expected at most 65535)", len(c.ClientID))
	}
	if strings.ContainsAny(c.Topics.Prefix, "+#") {
		bad("topics.prefix", "%q contains an MQTT wildcard", c.Topics.Prefix)
	}
	if c.BatchMaxReadings < 1 || c.BatchMaxReadings > maxBatchReadings {
		bad("batch_max_readings", "%d is outside [1, %d]", c.BatchMaxReadings, maxBatchReadings)
	}
	if c.BatchMaxBytes < 1 || c.BatchMaxBytes >= wire.MaxBatchBytes {
		bad("batch_max_bytes", "%d is outside [1, %d)", c.BatchMaxBytes, wire.MaxBatchBytes)
	}
	if c.ReplayBatchReadings < c.BatchMaxReadings || c.ReplayBatchReadings > maxBatchReadings {
		bad("replay_batch_readings", "%d is outside [batch_max_readings %d, %d]", c.ReplayBatchReadings, c.BatchMaxReadings, maxBatchReadings)
	}
	if c.ReplayBatchBytes < c.BatchMaxBytes || c.ReplayBatchBytes >= wire.MaxBatchBytes {
		bad("replay_batch_bytes", "%d is outside [batch_max_bytes %d, %d)", c.ReplayBatchBytes, c.BatchMaxBytes, wire.MaxBatchBytes)
	}
	if c.BatchMaxWait < 0 {
		bad("batch_max_wait", "%s is negative", c.BatchMaxWait)
	}
	if c.Window < 1 || c.Window > maxWindow {
		bad("window", "%d is outside [1, %d]", c.Window, maxWindow)
	}
	if c.ReplayWindow < c.Window || c.ReplayWindow > maxWindow {
		bad("replay_window", "%d is outside [window %d, %d]", c.ReplayWindow, c.Window, maxWindow)
	}
	if c.AckTimeout < 0 {
		bad("ack_timeout", "%s is negative", c.AckTimeout)
	}
	if c.ReplayRate < 0 || math.IsNaN(c.ReplayRate) || math.IsInf(c.ReplayRate, 0) {
		bad("replay_rate", "%v (expected a finite readings/s >= 0)", c.ReplayRate)
	}
	if c.BackoffBase < 0 {
		bad("backoff_base", "%s is negative", c.BackoffBase)
	}
	if c.BackoffMax < c.BackoffBase {
		bad("backoff_max", "%s is below backoff_base %s", c.BackoffMax, c.BackoffBase)
	}
	if c.KeepAlive < time.Second {
		bad("keep_alive", "%s is below 1s (MQTT counts it in seconds)", c.KeepAlive)
	}
	if c.ConnectTimeout < 0 {
		bad("connect_timeout", "%s is negative", c.ConnectTimeout)
	}
	if c.StatusInterval < time.Second {
		bad("status_interval", "%s is below 1s (expected how often the status is republished, e.g. 60s)", c.StatusInterval)
	}
	return errors.Join(errs...)
}

// checkBroker returns what is wrong with a broker URL, or "".
func checkBroker(raw string, haveTLS bool) string {
	if raw == "" {
		return "is required (e.g. tcp://broker:1883 or ssl://broker:8883)"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Sprintf("%q: %v", raw, err)
	}
	secure, ok := Scheme(u.Scheme)
	if !ok {
		return fmt.Sprintf("%q: scheme %q (expected tcp, mqtt, ssl, tls, mqtts, ws or wss)", raw, u.Scheme)
	}
	if u.Host == "" {
		return fmt.Sprintf("%q: no host (expected scheme://host:port)", raw)
	}
	if haveTLS && !secure {
		return fmt.Sprintf("%q: a TLS config is set but scheme %q is plain (expected ssl://, mqtts:// or wss://)", raw, u.Scheme)
	}
	return ""
}
