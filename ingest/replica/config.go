package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Config.
const (
	DefaultStream           = "PONTE_APPLIED"
	DefaultSubject          = "ponte.applied"
	DefaultBucket           = "PONTE_TWIN"
	DefaultReplicas         = 3
	DefaultMaxAge           = 24 * time.Hour
	DefaultMaxBytes         = 1 << 30
	DefaultSnapshotInterval = time.Minute
	DefaultWindow           = 15 * time.Minute
	DefaultCloseGrace       = 10 * time.Second
	// DuplicateWindow is how long the stream remembers message IDs
	// (JetStream's default); at most MaxAge.
	DuplicateWindow = 2 * time.Minute
)

// ErrConfig is wrapped by every Config validation error.
var ErrConfig = errors.New("replica config")

// Config configures a Replica. Zero optional fields take the defaults.
type Config struct {
	// URLs are the NATS servers, comma-separated (nats://host:4222,...).
	URLs string
	// Stream, Subject: the applied stream and the subject it stores.
	Stream, Subject string
	// Bucket is the object store bucket of the twin's snapshots.
	Bucket string
	// Replicas of the stream and the bucket (default 3; 1 on one node).
	Replicas int
	// MaxAge and MaxBytes bound the stream (oldest dropped first).
	MaxAge   time.Duration
	MaxBytes int64
	// SnapshotInterval is how often the twin's snapshot is written.
	SnapshotInterval time.Duration
	// Window is how far back a twin without a snapshot starts (the
	// indicator window).
	Window time.Duration
	// CloseGrace bounds how long a failing publish is retried once Run's
	// context is done.
	CloseGrace time.Duration
	// Name names the connection (the instance), for the servers' monitoring.
	Name string
	// Options are more connection options: the login and TLS of ingest's
	// configuration (twin.replica).
	Options []nats.Option
	// Logger defaults to slog.Default(); Registerer to a private registry.
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Validate reports every field that cannot be right, joined.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.URLs == "" {
		bad("urls: required (expected the NATS servers, e.g. nats://10.0.0.1:4222)")
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		bad("replicas %d: expected 1 to 5 (0 for the default %d)", c.Replicas, DefaultReplicas)
	}
	if c.MaxAge != 0 && c.MaxAge < DuplicateWindow {
		bad("max_age %s: expected at least %s (the duplicate window)", c.MaxAge, DuplicateWindow)
	}
	if c.MaxBytes < 0 {
		bad("max_bytes %d: expected a positive size (0 for the default %d)", c.MaxBytes, int64(DefaultMaxBytes))
	}
	for name, d := range map[string]time.Duration{"snapshot_interval": c.SnapshotInterval, "window": c.Window, "close_grace": c.CloseGrace} {
		if d < 0 {
			bad("%s %s: expected a positive duration (0 for the default)", name, d)
		}
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&c.Stream, DefaultStream)
	def(&c.Subject, DefaultSubject)
	def(&c.Bucket, DefaultBucket)
	def(&c.Name, "ponte-ingest")
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = DefaultSnapshotInterval
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.CloseGrace == 0 {
		c.CloseGrace = DefaultCloseGrace
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	return c
}
