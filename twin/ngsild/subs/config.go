package subs

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/twin"
)

// Defaults of the limits of Config.
const (
	DefaultMaxSubscriptions = 1000
	DefaultMaxPerScope      = 100
	DefaultQueueSize        = 1000
	DefaultMaxAttempts      = 5
	DefaultRetryBase        = time.Second
	DefaultRetryMax         = time.Minute
	DefaultDeliveryTimeout  = 10 * time.Second
	DefaultMaxBodyBytes     = 64 << 10
	DefaultQueueBytes       = 4 << 20
	DefaultTotalQueueBytes  = 256 << 20
)

// Config configures a Manager. Zero limits take the defaults above.
type Config struct {
	// Reader is the twin whose change stream is matched (required).
	Reader twin.Reader
	// Scope returns what the caller of a request may see (the API's
	// operator check puts it in the request); false answers 401 (required).
	Scope func(*http.Request) (twin.Scope, bool)
	// ResolveScope rebuilds the scope of a stored subscription from its
	// key (twin.Scope.Key) when the subscriptions are loaded from Dir. Nil,
	// or false for a key, leaves the subscription with the zero Scope,
	// which sees nothing, until it is patched by its owner.
	ResolveScope func(key string) (twin.Scope, bool)
	// ContextURL is where Ponte serves its @context (base URL +
	// ngsild.ContextPath): notifications link it (required).
	ContextURL string
	// Dir, if set, keeps the subscriptions in Dir/subscriptions.json,
	// loaded by New and replaced atomically at each change.
	Dir string
	// MaxSubscriptions bounds the subscriptions of all scopes together,
	// MaxPerScope those of one scope.
	MaxSubscriptions, MaxPerScope int
	// QueueSize bounds the notifications waiting for one subscription's
	// endpoint; when full the oldest is dropped and counted.
	QueueSize int
	// QueueBytes bounds the notifications waiting for one subscription's
	// endpoint in bytes, TotalQueueBytes those of every subscription
	// together: without it the worst case is MaxSubscriptions x QueueSize
	// notifications of up to 100 entities. Notifications are encoded when
	// queued and measured so (the encoded data plus the envelope's
	// estimate); over either bound the oldest are dropped and counted
	// (reason "bytes"), over the total those of the largest queue. The
	// notification being POSTed is not counted.
	QueueBytes, TotalQueueBytes int64
	// MaxAttempts is how many times one notification is POSTed before it
	// is dropped; retries wait RetryBase*2^n up to RetryMax, or what a 429
	// or 503 answer's Retry-After says (capped at RetryMax).
	MaxAttempts         int
	RetryBase, RetryMax time.Duration
	// DeliveryTimeout bounds one POST.
	DeliveryTimeout time.Duration
	// AllowedEndpoints are where notifications may go: URL prefixes
	// ("https://dash.example.org/ngsi/") or host:port patterns
	// ("dash.example.org:443", "*.comune.bari.it:443", "10.1.2.3:8080").
	// Empty allows no endpoint at all: see the package doc (SSRF).
	AllowedEndpoints []string
	// MaxBodyBytes bounds a POST or PATCH body.
	MaxBodyBytes int64
	Logger       *slog.Logger
	// Registerer takes the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Validate checks c, naming the field at fault.
func (c *Config) Validate() error {
	var errs []error
	if c.Reader == nil {
		errs = append(errs, errors.New("subs config: Reader: required"))
	}
	if c.Scope == nil {
		errs = append(errs, errors.New("subs config: Scope: required"))
	}
	if u, err := url.Parse(c.ContextURL); c.ContextURL == "" || err != nil || !u.IsAbs() {
		errs = append(errs, fmt.Errorf("subs config: ContextURL: an absolute URL is expected, found %q", c.ContextURL))
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"MaxSubscriptions", int64(c.MaxSubscriptions)}, {"MaxPerScope", int64(c.MaxPerScope)},
		{"QueueSize", int64(c.QueueSize)}, {"MaxAttempts", int64(c.MaxAttempts)},
		{"RetryBase", int64(c.RetryBase)}, {"RetryMax", int64(c.RetryMax)},
		{"DeliveryTimeout", int64(c.DeliveryTimeout)}, {"MaxBodyBytes", c.MaxBodyBytes},
		{"QueueBytes", c.QueueBytes}, {"TotalQueueBytes", c.TotalQueueBytes}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("subs config: %s: must be >= 0 (0 takes the default), found %d", f.name, f.v))
		}
	}
	if c.MaxPerScope > 0 && c.MaxSubscriptions > 0 && c.MaxPerScope > c.MaxSubscriptions {
		errs = append(errs, fmt.Errorf("subs config: MaxPerScope: %d is above MaxSubscriptions %d", c.MaxPerScope, c.MaxSubscriptions))
	}
	if c.QueueBytes > 0 && c.TotalQueueBytes > 0 && c.QueueBytes > c.TotalQueueBytes {
		errs = append(errs, fmt.Errorf("subs config: QueueBytes: %d is above TotalQueueBytes %d", c.QueueBytes, c.TotalQueueBytes))
	}
	if _, err := parsePatterns(c.AllowedEndpoints); err != nil {
		errs = append(errs, fmt.Errorf("subs config: %w", err))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with the zero limits set to the defaults.
func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxSubscriptions, DefaultMaxSubscriptions)
	def(&c.MaxPerScope, min(DefaultMaxPerScope, c.MaxSubscriptions))
	def(&c.QueueSize, DefaultQueueSize)
	def(&c.MaxAttempts, DefaultMaxAttempts)
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	dur(&c.RetryBase, DefaultRetryBase)
	dur(&c.RetryMax, max(DefaultRetryMax, c.RetryBase))
	dur(&c.DeliveryTimeout, DefaultDeliveryTimeout)
	def64 := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	def64(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	def64(&c.TotalQueueBytes, DefaultTotalQueueBytes)
	def64(&c.QueueBytes, min(DefaultQueueBytes, c.TotalQueueBytes))
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
