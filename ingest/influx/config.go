package influx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/internal/influxschema"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultMeasurement   = influxschema.DefaultMeasurement
	DefaultBatchSize     = 5000
	DefaultFlushInterval = 100 * time.Millisecond
	DefaultTimeout       = 10 * time.Second
	DefaultRetryBase     = 500 * time.Millisecond
	DefaultRetryMax      = 30 * time.Second
	DefaultWriters       = 4
	DefaultPingInterval  = 10 * time.Second
	DefaultProbeInterval = 500 * time.Millisecond
	// DefaultMaxPendingBatches sets the default MaxPending as a multiple of
	// BatchSize lines of DefaultReadingsPerLine readings: enough for every
	// writer to hold a full request and the next ones to fill while they
	// are in flight.
	DefaultMaxPendingBatches = 4
	// DefaultReadingsPerLine is the readings a line is taken to carry for
	// the default MaxPending: a device's poll at one time shares a line
	// (up to maxLineFields), ten points being a small meter's poll.
	DefaultReadingsPerLine = 10
)

// Config configures a Sink. Zero fields take the defaults above.
type Config struct {
	// URL is InfluxDB's base URL, e.g. "http://influxdb:8086". Writes go to
	// URL/api/v2/write (InfluxDB 2.x, 3.x, Cloud, and the 1.8 compatibility
	// endpoint).
	URL string
	// Token authorises writes: an API token for 2.x/3.x; for 1.8
	// "user:password", or "" when authentication is off.
	Token string
	// Org is the organisation (2.x/3.x); InfluxDB 1.8 ignores it.
	Org string
	// Bucket is the bucket; for InfluxDB 1.8 "database/retention-policy"
	// or "database" for the default retention policy.
	Bucket string
	// Measurement holds readings of devices whose type (profile category)
	// Meta does not know (default "ponte"); readings of typed devices go
	// to a measurement named after the type. See the package doc.
	Measurement string
	// BatchSize is the most lines (InfluxDB points) one HTTP write carries
	// (default 5000); a line carries the readings of one device at one
	// time.
	BatchSize int
	// FlushInterval is the longest a point waits for its batch to fill
	// while another write is in flight (default 100ms). When no write is
	// in flight points are sent at once.
	FlushInterval time.Duration
	// Timeout bounds one HTTP write (default 10s).
	Timeout time.Duration
	// RetryBase and RetryMax bound the exponential backoff between tries
	// while InfluxDB is unreachable or failing (defaults 500ms and 30s).
	RetryBase, RetryMax time.Duration
	// Writers is how many HTTP writes may be in flight at once (default
	// 4). InfluxDB parses a request and then waits for its WAL's fsync
	// before answering; with 2 in flight it sat idle 5-15 % of the time
	// on its own core, with 4 it stays busy (ingest/app
	// BenchmarkPipelineInflux; 8 was no faster).
	Writers int
	// MaxPending bounds the readings accepted by Write and not yet written
	// (default 4 x BatchSize x 10: 200,000 readings). Write blocks for room beyond it, so memory
	// stays bounded while InfluxDB is slow or down.
	MaxPending int
	// PingInterval is how often an idle sink pings InfluxDB so that
	// Healthy stays current without traffic (default 10s).
	PingInterval time.Duration
	// ProbeInterval is how often the sink pings InfluxDB's /ping while it
	// backs off from a write that could not reach InfluxDB (default
	// 500ms): the held write is tried again as soon as a ping answers,
	// instead of when the backoff (up to RetryMax) runs out. A server that
	// answers but fails writes is not probed; its backoff runs in full.
	ProbeInterval time.Duration
	// Transport carries the HTTP requests (nil: a clone of
	// http.DefaultTransport); set it for TLS settings or proxies.
	Transport http.RoundTripper
	// Logger receives state changes: InfluxDB down and back, rejected
	// points (nil: discard).
	Logger *slog.Logger
	// Registerer receives the metrics (nil: not registered).
	Registerer prometheus.Registerer
}

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("invalid influx sink config")

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Measurement == "" {
		c.Measurement = DefaultMeasurement
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RetryBase == 0 {
		c.RetryBase = DefaultRetryBase
	}
	if c.RetryMax == 0 {
		c.RetryMax = max(DefaultRetryMax, c.RetryBase)
	}
	if c.Writers == 0 {
		c.Writers = DefaultWriters
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPendingBatches * c.BatchSize * DefaultReadingsPerLine
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = DefaultProbeInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks c as New would use it (after defaults) and returns an
// error naming every bad field.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...)))
	}
	if c.URL == "" {
		bad("url", "missing (expected InfluxDB's base URL, e.g. http://influxdb:8086)")
	} else if u, err := url.Parse(c.URL); err != nil {
		bad("url", "%q does not parse: %v", c.URL, err)
	} else if u.Scheme != "http" && u.Scheme != "https" {
		bad("url", "%q: scheme %q (expected http or https)", c.URL, u.Scheme)
	} else if u.Host == "" {
		bad("url", "%q has no host", c.URL)
	}
	if c.Bucket == "" {
		bad("bucket", `missing (expected a bucket, or "database/retention-policy" for InfluxDB 1.8)`)
	}
	if err := checkName(c.Measurement, true); err != "" {
		bad("measurement", "%q %s", c.Measurement, err)
	}
	positive := func(field string, v int) {
		if v < 0 {
			bad(field, "%d (expected a positive number)", v)
		}
	}
	positive("batch_size", c.BatchSize)
	positive("writers", c.Writers)
	positive("max_pending", c.MaxPending)
	if c.MaxPending > 0 && c.BatchSize > 0 && c.MaxPending < c.BatchSize {
		bad("max_pending", "%d is less than batch_size %d (expected at least one batch)", c.MaxPending, c.BatchSize)
	}
	durations := []struct {
		field string
		d     time.Duration
	}{
		{"flush_interval", c.FlushInterval},
		{"timeout", c.Timeout},
		{"retry_base", c.RetryBase},
		{"retry_max", c.RetryMax},
		{"ping_interval", c.PingInterval},
		{"probe_interval", c.ProbeInterval},
	}
	for _, d := range durations {
		if d.d < 0 {
			bad(d.field, "%s (expected a positive duration)", d.d)
		}
	}
	if c.RetryMax > 0 && c.RetryBase > c.RetryMax {
		bad("retry_max", "%s is less than retry_base %s", c.RetryMax, c.RetryBase)
	}
	return errors.Join(errs...)
}
