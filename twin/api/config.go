package api

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/twin"
)

// Defaults for Config's zero fields.
const (
	DefaultPublicRate        = 5
	DefaultPublicBurst       = 20
	DefaultMaxClients        = 10000
	DefaultMaxStreams        = 5000
	DefaultHeartbeat         = 15 * time.Second
	DefaultIndicatorInterval = time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultStreamCoalesce    = 75 * time.Millisecond
	DefaultHistoryTimeout    = 30 * time.Second
	DefaultMaxHistoryPoints  = 10000
)

// Config configures an API. Zero fields take the defaults above.
type Config struct {
	// Reader is the twin (required).
	Reader twin.Reader
	// Tokens are the operator tokens that see the whole twin (at least
	// one).
	Tokens []string
	// Tenants are the organisations sharing the platform; each tenant's
	// tokens see its Scope only (optional).
	Tenants []Tenant
	// History reads time series; nil answers /history with 501.
	History HistoryQuerier
	// Alarms serves /api/v1/alarms and below (twin/alarms' Handler),
	// behind the operator check; nil answers them with 503.
	Alarms http.Handler
	// Subscriptions serves /ngsi-ld/v1/subscriptions and below
	// (twin/ngsild/subs' Handler) behind the operator check, the scope
	// narrowed by NGSILD-Tenant in SubscriptionScope; nil answers them
	// with 501.
	Subscriptions http.Handler
	// Commands serves /api/v1/commands and below (package ingest/command),
	// behind the operator check; ScopeOf and OperatorID give it the
	// caller's scope and identity. Nil: those routes answer 503.
	Commands http.Handler
	// PublicRate is how many requests per second one client IP may make
	// to the public endpoints, PublicBurst how many at once.
	PublicRate  float64
	PublicBurst int
	// MaxClients bounds how many client IPs' rate buckets are kept; the
	// least recently seen are forgotten first.
	MaxClients int
	// MaxStreams caps concurrent SSE streams; beyond it 503.
	MaxStreams int
	// MaxStreamsPerScope caps the streams of one tenant's tokens, and of
	// the platform's, at once; beyond it 429 (default
	// MaxStreams/(tenants+1), at least 50: shares.go).
	MaxStreamsPerScope int
	// Heartbeat is the interval of ": ping" comments on a stream.
	Heartbeat time.Duration
	// IndicatorInterval is how often a stream checks the indicators and
	// sends them when they changed.
	IndicatorInterval time.Duration
	// WriteTimeout bounds each write to a stream's client, so a client
	// that stops reading is disconnected.
	WriteTimeout time.Duration
	// StreamCoalesce is the least time between two writes to a busy
	// stream (at most 1 s): the changes that arrive meanwhile go out in
	// one write. Shorter means a lower latency and more CPU per change
	// (stream.go has the figures).
	StreamCoalesce time.Duration
	// HistoryTimeout bounds one history query.
	HistoryTimeout time.Duration
	// MaxHistoryPoints bounds (to-from)/every of a history request.
	MaxHistoryPoints int
	// Temporal bounds the NGSI-LD temporal API (ngsild_temporal_limits.go).
	Temporal TemporalLimits
	// AuthBurst is how many failed operator authentications one client
	// address may make before it gets 429 unchecked, AuthRefill how often
	// it regains one (defaults: package throttle's).
	AuthBurst  int
	AuthRefill time.Duration
	// Public is what the public endpoints say about the data (language,
	// time zone, licence) and whose X-Forwarded-For they believe
	// (public.go).
	Public Public
	// Logger receives the API's logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the API's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Validate reports the first problem of c, naming the field.
func (c Config) Validate() error {
	var errs []error
	if c.Reader == nil {
		errs = append(errs, errors.New("config.Reader: the twin is required"))
	}
	if len(c.Tokens) == 0 {
		errs = append(errs, errors.New("config.Tokens: at least one operator token is required"))
	}
	for i, t := range c.Tokens {
		if t == "" || strings.ContainsAny(t, " \t\r\n") {
			errs = append(errs, fmt.Errorf("config.Tokens[%d]: must be non-empty without white space", i))
		}
	}
	errs = append(errs, tenantErrors(c.Tokens, c.Tenants)...)
	if c.PublicRate < 0 || math.IsNaN(c.PublicRate) || math.IsInf(c.PublicRate, 0) {
		errs = append(errs, fmt.Errorf("config.PublicRate: %v, want a finite rate >= 0 (0: default %d/s)", c.PublicRate, DefaultPublicRate))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"PublicBurst", c.PublicBurst}, {"MaxClients", c.MaxClients}, {"MaxStreams", c.MaxStreams}, {"MaxStreamsPerScope", c.MaxStreamsPerScope}, {"MaxHistoryPoints", c.MaxHistoryPoints}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("config.%s: %d, want >= 0 (0: default)", f.name, f.v))
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"Heartbeat", c.Heartbeat}, {"IndicatorInterval", c.IndicatorInterval}, {"WriteTimeout", c.WriteTimeout}, {"HistoryTimeout", c.HistoryTimeout}, {"StreamCoalesce", c.StreamCoalesce}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("config.%s: %v, want >= 0 (0: default)", f.name, f.v))
		}
	}
	if c.StreamCoalesce > time.Second {
		errs = append(errs, fmt.Errorf("config.StreamCoalesce: %v, want at most 1s (a stream's events would wait longer)", c.StreamCoalesce))
	}
	errs = append(errs, c.Public.validate()...)
	errs = append(errs, c.Temporal.validate()...)
	if len(errs) > 0 {
		return fmt.Errorf("twin api config: %w", errors.Join(errs...))
	}
	return nil
}

// withDefaults returns c with its zero fields set.
func (c Config) withDefaults() Config {
	if c.PublicRate == 0 {
		c.PublicRate = DefaultPublicRate
	}
	if c.PublicBurst == 0 {
		c.PublicBurst = DefaultPublicBurst
	}
	if c.MaxClients == 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.MaxStreams == 0 {
		c.MaxStreams = DefaultMaxStreams
	}
	if c.MaxStreamsPerScope == 0 {
		c.MaxStreamsPerScope = streamsPerScope(c.MaxStreams, len(c.Tenants))
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.IndicatorInterval == 0 {
		c.IndicatorInterval = DefaultIndicatorInterval
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.StreamCoalesce == 0 {
		c.StreamCoalesce = DefaultStreamCoalesce
	}
	if c.HistoryTimeout == 0 {
		c.HistoryTimeout = DefaultHistoryTimeout
	}
	if c.MaxHistoryPoints == 0 {
		c.MaxHistoryPoints = DefaultMaxHistoryPoints
	}
	c.Public = c.Public.withDefaults()
	c.Temporal = c.Temporal.withDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
