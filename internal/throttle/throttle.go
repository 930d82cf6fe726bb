package throttle

import (
	"container/list"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Defaults of Config's zero fields.
const (
	DefaultBurst   = 10
	DefaultRefill  = 2 * time.Second
	DefaultMaxKeys = 10000
)

// ReasonThrottled is the metric reason of an attempt refused unchecked.
const ReasonThrottled = "throttled"

// Config configures a Guard. Zero fields take the defaults above.
type Config struct {
	// Listener names the guarded listener in the metric and the logs
	// ("http", "operator_api", "mqtt").
	Listener string
	// Burst is how many failed attempts an address may make at once.
	Burst int
	// Refill is how often an address regains one attempt.
	Refill time.Duration
	// MaxKeys bounds how many addresses are remembered.
	MaxKeys int
	// Logger (nil discards).
	Logger *slog.Logger
	// Registerer receives ponte_ingest_auth_failures_total (nil: kept
	// unregistered).
	Registerer prometheus.Registerer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Validate reports what is wrong with c, naming the field.
func (c Config) Validate() error {
	var errs []error
	if c.Listener == "" {
		errs = append(errs, errors.New("throttle config.Listener: required (names the listener in the metric)"))
	}
	if c.Burst < 0 {
		errs = append(errs, fmt.Errorf("throttle config.Burst: %d, want >= 0 (0: default %d)", c.Burst, DefaultBurst))
	}
	if c.Refill < 0 {
		errs = append(errs, fmt.Errorf("throttle config.Refill: %v, want >= 0 (0: default %v)", c.Refill, DefaultRefill))
	}
	if c.MaxKeys < 0 {
		errs = append(errs, fmt.Errorf("throttle config.MaxKeys: %d, want >= 0 (0: default %d)", c.MaxKeys, DefaultMaxKeys))
	}
	return errors.Join(errs...)
}

// Guard keeps the per-address budgets of one listener. It is safe for
// concurrent use.
type Guard struct {
	cfg      Config
	failures *prometheus.CounterVec
	throttle prometheus.Counter

	mu   sync.Mutex
	keys map[string]*list.Element // of *entry
	lru  *list.List               // front: most recently seen
}

// entry is one address's bucket.
type entry struct {
	key       string
	lim       *rate.Limiter
	throttled bool // the last attempt was refused (logged once)
}

// New checks cfg and returns a Guard.
func New(cfg Config) (*Guard, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.Refill == 0 {
		cfg.Refill = DefaultRefill
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f, err := AuthFailures(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Guard{cfg: cfg, failures: f, throttle: f.WithLabelValues(cfg.Listener, ReasonThrottled),
		keys: map[string]*list.Element{}, lru: list.New()}, nil
}

// Attempt is one authentication attempt Begin admitted; the caller ends
// it with Succeeded, Failed or Refund.
type Attempt struct {
	g *Guard
	e *entry
}

// Begin admits an attempt from key (see Key) while its budget has a
// failure left. When the budget is spent it returns false and how long
// until the next attempt is admitted: the caller refuses the attempt
// without looking at its credentials. Admitting spends nothing: only a
// failure does (Failed), so legitimate clients behind one address (a
// carrier NAT, a reconnect storm) are never throttled by their own
// number; concurrent guesses can pass the check before any of them
// failed, which bounds them by the listener's connection cap.
func (g *Guard) Begin(key, remote string) (Attempt, bool, time.Duration) {
	now := g.cfg.Now()
	g.mu.Lock()
	e := g.entry(key)
	tokens := e.lim.TokensAt(now)
	if tokens >= 1 {
		e.throttled = false
		g.mu.Unlock()
		return Attempt{g: g, e: e}, true, 0
	}
	wait := time.Duration((1 - tokens) * float64(g.cfg.Refill))
	first := !e.throttled
	e.throttled = true
	g.mu.Unlock()
	g.throttle.Inc()
	if first {
		g.cfg.Logger.Warn("authentication throttled: too many failed attempts from this address or user",
			"listener", g.cfg.Listener, "remote", remote, "key", key, "retry_after", wait.Round(time.Second))
	}
	return Attempt{}, false, wait
}

// entry returns key's entry, made or moved to the front; g.mu is held.
func (g *Guard) entry(key string) *entry {
	if el, ok := g.keys[key]; ok {
		g.lru.MoveToFront(el)
		return el.Value.(*entry)
	}
	if g.lru.Len() >= g.cfg.MaxKeys {
		old := g.lru.Back()
		g.lru.Remove(old)
		delete(g.keys, old.Value.(*entry).key)
	}
	e := &entry{key: key, lim: rate.NewLimiter(rate.Every(g.cfg.Refill), g.cfg.Burst)}
	g.keys[key] = g.lru.PushFront(e)
	return e
}

// Succeeded ends an attempt whose credentials were right: it spends
// nothing.
func (a Attempt) Succeeded() {}

// Refund ends an attempt that was no guess (no credentials given) without
// spending its budget and, unless reason is empty, counts it as a failure
// of that reason.
func (a Attempt) Refund(reason string) {
	if a.g != nil && reason != "" {
		a.g.failures.WithLabelValues(a.g.cfg.Listener, reason).Inc()
	}
}

// Failed ends an attempt whose credentials were wrong: it spends one
// failure of the budget and, unless reason is empty (a failure counted by
// another guard), counts it with reason.
func (a Attempt) Failed(reason string) {
	if a.g == nil {
		return
	}
	a.e.lim.AllowN(a.g.cfg.Now(), 1)
	if reason != "" {
		a.g.failures.WithLabelValues(a.g.cfg.Listener, reason).Inc()
	}
}

// AuthFailures returns ponte_ingest_auth_failures_total registered on reg,
// or the one already registered there by another listener (nil reg: a
// counter kept unregistered).
func AuthFailures(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ponte_ingest_auth_failures_total",
		Help: "Failed authentication attempts by listener (mqtt, mqtts, http_intake, operator_api) and reason (bad_credentials, missing_credentials, throttled: refused unchecked because the address or username spent its budget; MQTT also client_id, session_owner, will, sessions_full).",
	}, []string{"listener", "reason"})
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if ex, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return ex, nil
			}
		}
		return nil, fmt.Errorf("register ponte_ingest_auth_failures_total: %w", err)
	}
	return c, nil
}

// Key is the budget key of a remote address ("host:port" or a bare
// host): the IP, or for IPv6 its /64.
func Key(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() && !a.Is4In6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return host
}
