package uplink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/time/rate"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/internal/backoff"
	"github.com/ponte-city/ponte/wire"
)

// ErrRunning is returned by a second call to Run.
var ErrRunning = errors.New("forwarder already running")

// shutdownTimeout bounds the clean offline status and disconnect at the
// end of Run.
const shutdownTimeout = 3 * time.Second

// Forwarder sends a buffer's records to ingest over MQTT and frees them
// when ingest acknowledges them. See the package doc.
//
// Run owns the connection and every piece of forwarding state, on its own
// goroutine; it may be called once. Status may be called from any
// goroutine. Acknowledgements arrive on paho's goroutines and reach Run
// through an atomic high-water mark and a wake-up channel, so paho's
// router never waits for the forwarder.
type Forwarder struct {
	cfg    Config
	buf    *buffer.Buffer
	log    *slog.Logger
	m      *metrics
	epoch  uint64
	broker string // the broker URL without its password, for logs
	up     string // topics
	ack    string
	status string
	cmd    string
	report string
	retry  backoff.Policy // reconnect waits: full jitter

	running atomic.Bool
	// cur is the connection while it is up, for PublishReport.
	cur atomic.Pointer[conn]
	// sent is the highest sequence number published in this process;
	// acks above it are refused. Written by Run before each publish.
	sent atomic.Uint64
	// acked is the highest valid ack received; Run applies it.
	acked   atomic.Uint64
	ackWake chan struct{} // capacity 1
	// ackWarn limits the warnings about acks this gateway did not ask for.
	ackWarn *rate.Limiter
	// refusedWarn limits the warnings about readings ingest refused.
	refusedWarn *rate.Limiter

	mu sync.Mutex
	st Status
}

// Status is a snapshot of the forwarder's state, for the agent's local
// status API.
type Status struct {
	// Connected is true while connected and subscribed to acknowledgements.
	Connected bool
	// AckedSeq is the highest sequence number ingest acknowledged in this
	// buffer epoch, since the forwarder started.
	AckedSeq uint64
	// SentSeq is the highest sequence number published.
	SentSeq uint64
	// InFlight counts published batches awaiting acknowledgement.
	InFlight int
	// LastAck is when the last valid acknowledgement arrived.
	LastAck time.Time
	// LastError is the last connection or publish error ("" if none yet).
	LastError string
}

// New returns a Forwarder of buf's records. It checks cfg and registers
// the metrics; it does not connect (Run does).
func New(cfg Config, buf *buffer.Buffer) (*Forwarder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if buf == nil {
		return nil, fmt.Errorf("%w: buffer is nil", ErrConfig)
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Forwarder{
		cfg:     cfg,
		buf:     buf,
		log:     cfg.Logger.With("gateway", cfg.Gateway),
		m:       m,
		epoch:   buf.Epoch(),
		broker:  redact(cfg.Broker),
		up:      cfg.Topics.Up(cfg.Gateway),
		ack:     cfg.Topics.Ack(cfg.Gateway),
		status:  cfg.Topics.Status(cfg.Gateway),
		cmd:     cfg.Topics.Cmd(cfg.Gateway),
		report:  cfg.Topics.Report(cfg.Gateway),
		retry:   backoff.Policy{Base: cfg.BackoffBase, Max: cfg.BackoffMax, Jitter: backoff.Full},
		ackWake: make(chan struct{}, 1),
		ackWarn: rate.NewLimiter(rate.Every(ackWarnEvery), 1),

		refusedWarn: rate.NewLimiter(rate.Every(ackWarnEvery), 1),
	}, nil
}

// Status returns a snapshot of the forwarder's state.
func (f *Forwarder) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *Forwarder) update(fn func(*Status)) {
	f.mu.Lock()
	fn(&f.st)
	f.mu.Unlock()
}

func (f *Forwarder) setError(err error) {
	f.update(func(s *Status) { s.LastError = err.Error() })
}

// Run connects to the broker and forwards until ctx is cancelled; then it
// publishes the "offline" status, disconnects (bounded by a few seconds)
// and returns nil. Lost connections are retried with jittered exponential
// backoff, for ever. Run returns an error only when it cannot go on: the
// buffer was closed under it, or Run was called twice.
func (f *Forwarder) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	s := newSender(f)
	attempt := 0
	lastFail := "" // the last failed connection attempt's error
	for {
		wait := f.retry.Wait(attempt)
		f.log.Debug("uplink connect wait", "attempt", attempt, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		start := time.Now()
		connected, err := f.session(ctx, s)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, buffer.ErrClosed) {
			return fmt.Errorf("forward to %s: %w", f.broker, err)
		}
		f.setError(err)
		if connected && time.Since(start) >= f.cfg.BackoffMax {
			attempt = 0
		} else if attempt < 62 {
			attempt++
		}
		// A failed attempt is logged at Warn when it fails differently from
		// the one before (a certificate the broker refuses, a wrong
		// password, the network gone), then at Debug while it keeps
		// failing the same way: an outage must not flood the log, nor hide
		// why the gateway cannot connect.
		level := slog.LevelWarn
		if !connected && err != nil && err.Error() == lastFail {
			level = slog.LevelDebug
		}
		if !connected && err != nil {
			lastFail = err.Error()
		} else {
			lastFail = ""
		}
		f.log.Log(ctx, level, "uplink disconnected", "broker", f.broker, "err", err, "attempt", attempt)
	}
}

// session makes one connection and forwards over it until it fails or
// ctx ends; connected says whether the connection came up.
func (f *Forwarder) session(ctx context.Context, s *sender) (connected bool, err error) {
	c, err := f.connect(ctx)
	if err != nil {
		f.m.connects.WithLabelValues("error").Inc()
		return false, err
	}
	f.m.connects.WithLabelValues("ok").Inc()
	f.m.connected.Set(1)
	f.update(func(st *Status) { st.Connected = true })
	f.log.Info("uplink connected", "broker", f.broker, "epoch", f.epoch)
	f.cur.Store(c)
	defer func() {
		f.cur.Store(nil)
		f.m.connected.Set(0)
		f.update(func(st *Status) { st.Connected = false })
	}()
	if f.cfg.OnConnect != nil {
		go f.cfg.OnConnect()
	}
	stopHeartbeat := f.heartbeat(c)
	err = s.run(ctx, c)
	stopHeartbeat()
	if ctx.Err() != nil {
		f.goOffline(c)
		return true, nil
	}
	c.client.Disconnect(0)
	return true, err
}

// onAck is paho's handler for the ack topic. It checks the ack and raises
// the high-water mark that Run applies; it never blocks.
func (f *Forwarder) onAck(_ paho.Client, msg paho.Message) {
	a, err := wire.DecodeAck(msg.Payload())
	switch {
	case err != nil:
		f.badAck(reasonDecode, "err", err)
		return
	case a.Gateway != f.cfg.Gateway:
		f.badAck(reasonGateway, "ack_gateway", a.Gateway)
		return
	case a.Epoch != f.epoch:
		f.badAck(reasonEpoch, "ack_epoch", a.Epoch, "epoch", f.epoch)
		return
	}
	if sent := f.sent.Load(); a.Seq > sent {
		// Ingest's mark is ahead of what this process has sent: after a
		// crash the buffer's saved ack can lag ingest by more than a
		// window, and ingest acks its mark even for batches it already
		// has. Everything up to a.Seq is written, so what was sent is;
		// refusing the ack instead would resend the same window forever.
		f.badAck(reasonBeyond, "ack_seq", a.Seq, "sent_seq", sent)
		a.Seq = sent
	}
	f.m.acks.Inc()
	for {
		cur := f.acked.Load()
		if a.Seq <= cur || f.acked.CompareAndSwap(cur, a.Seq) {
			break
		}
	}
	f.update(func(st *Status) { st.LastAck = time.Now(); st.AckedSeq = max(st.AckedSeq, a.Seq) })
	select {
	case f.ackWake <- struct{}{}:
	default:
	}
	f.refused(a)
	if f.cfg.OnAck != nil {
		f.cfg.OnAck(a)
	}
}

// refused counts and logs the readings ingest reports it refused. They
// are acknowledged (ingest dead-lettered them durably) and freed like the
// rest; the warning, at most once per ackWarnEvery, names one device.
func (f *Forwarder) refused(a wire.Ack) {
	n := 0
	for _, r := range a.Refused {
		n += r.Count
	}
	if n == 0 {
		return
	}
	f.m.refused.Add(float64(n))
	if !f.refusedWarn.Allow() {
		return
	}
	r := a.Refused[0]
	f.log.Warn("ingest refused readings of this gateway (dead-lettered centrally, not in the time series)",
		"readings", n, "devices", len(a.Refused)+a.RefusedOmitted, "device", r.Device, "reason", r.Reason, "detail", r.Detail,
		"point", r.LastPoint, "value", r.LastValue, "reading_time", r.LastTime)
}

// ackWarnEvery spaces the warnings about refused acks.
const ackWarnEvery = 10 * time.Second

// badAck counts an ack that is not applied as sent. One that names
// another gateway or epoch, or does not decode, was not sent by this
// gateway's ingest for this buffer: it is refused and logged loudly, at
// most once per ackWarnEvery (a flood of forged acks must not flood the
// log). An ack beyond what was sent is normal after a crash (Debug).
func (f *Forwarder) badAck(reason string, args ...any) {
	f.m.badAcks.WithLabelValues(reason).Inc()
	args = append([]any{"reason", reason}, args...)
	if reason == reasonBeyond || !f.ackWarn.Allow() {
		f.log.Debug("uplink ack ignored", args...)
		return
	}
	f.log.Warn("uplink refused an acknowledgement this gateway did not ask for (another gateway's, another buffer epoch's, or not an ack); nothing was freed",
		append(args, "topic", f.ack)...)
}

// redact returns a broker URL fit for logs and errors.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable broker URL)"
	}
	return u.Redacted()
}
