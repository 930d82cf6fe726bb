package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// Defaults of Config.
const (
	DefaultExpiry          = 5 * time.Minute
	DefaultMaxExpiry       = time.Hour
	DefaultDeviceBurst     = 3
	DefaultDeviceRefill    = 10 * time.Second
	DefaultOperatorBurst   = 20
	DefaultOperatorRefill  = time.Second
	DefaultMaxOpen         = 1000
	DefaultMaxOpenPerOp    = 50
	DefaultFinalWait       = 24 * time.Hour
	DefaultKeepEnded       = 7 * 24 * time.Hour
	DefaultReportBurst     = 1000
	DefaultReportRefill    = 10 * time.Millisecond
	DefaultGrace           = 30 * time.Second
	DefaultResend          = 15 * time.Second
	DefaultAuditMaxBytes   = 16 << 20
	DefaultAuditRetention  = 400 * 24 * time.Hour
	DefaultAuditQueue      = 10000
	DefaultAuditRetryBase  = time.Second
	DefaultAuditRetryMax   = time.Minute
	defaultAuditMaxRetries = 10
)

// Target is what a site's entity writes to: its gateway, device and the
// device's profile, and the latest values the twin holds of its points.
type Target struct {
	Entity, Gateway, Device string
	// Profile is the device's profile (nil when it did not load: nothing
	// is writable then).
	Profile *profile.Profile
	// Current are the latest numeric values by point name (optional).
	Current map[string]float64
}

// Publisher publishes payload on topic with QoS 1 and returns once the
// broker has it (PUBACK) or with an error (not connected, timeout).
type Publisher func(ctx context.Context, topic string, payload []byte) error

// AuditPoints writes audit entries to a time-series store (InfluxDB:
// InfluxAudit). Write returns when the store accepted them; an error is
// retried by the Service.
type AuditPoints interface {
	Write(ctx context.Context, entries []Entry) error
}

// Config configures a Service.
type Config struct {
	// Lookup resolves a site's entity ID (required).
	Lookup func(entity string) (Target, bool)
	// Topics is the topic layout (prefix).
	Topics wire.Topics
	// Publish sends commands (required).
	Publish Publisher
	// AuditDir holds the audit log (required).
	AuditDir string
	// AuditMaxBytes rotates audit.jsonl when it grows past it (default
	// DefaultAuditMaxBytes).
	AuditMaxBytes int64
	// AuditRetention is how long rotated files are kept (default
	// DefaultAuditRetention).
	AuditRetention time.Duration
	// ContinueBrokenAudit starts despite a broken hash chain (counted in
	// ponte_ingest_command_audit_broken_total, logged as an Error)
	// instead of refusing to start.
	ContinueBrokenAudit bool
	// AuditPoints, if set, receives every entry (asynchronously, with
	// retries between AuditRetryBase and AuditRetryMax, at most
	// AuditQueue entries waiting).
	AuditPoints                   AuditPoints
	AuditQueue                    int
	AuditRetryBase, AuditRetryMax time.Duration
	// Expiry is a command's default lifetime (DefaultExpiry), MaxExpiry
	// the longest a request may ask (DefaultMaxExpiry).
	Expiry, MaxExpiry time.Duration
	// Grace is how long after its expiry a command without a final report
	// is marked expired by ingest (DefaultGrace).
	Grace time.Duration
	// Resend is how often a command still queued without a report is
	// published again (DefaultResend).
	Resend time.Duration
	// DeviceBurst commands at once per device, one more every
	// DeviceRefill; OperatorBurst and OperatorRefill per operator ID.
	DeviceBurst, OperatorBurst   int
	DeviceRefill, OperatorRefill time.Duration
	// MaxOpen caps the commands not ended (DefaultMaxOpen);
	// MaxOpenPerOperator caps those one operator ID issued
	// (DefaultMaxOpenPerOp), so that one tenant's operator cannot take
	// every tenant's share.
	MaxOpen, MaxOpenPerOperator int
	// FinalWait is how long after its expiry a command the gateway has
	// received (or sent) waits for the gateway's final report before
	// ingest marks it failed (DefaultFinalWait); the gateway journals
	// and republishes its final report, and a later one still wins.
	FinalWait time.Duration
	// KeepEnded is how long an ended command stays in memory (Get, List)
	// after it ended (DefaultKeepEnded); the audit log keeps it.
	KeepEnded time.Duration
	// ReportBurst reports at once per gateway, one more every
	// ReportRefill (DefaultReportBurst, DefaultReportRefill); reports
	// past that are refused (counted) before they take the lock.
	ReportBurst  int
	ReportRefill time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()) and Registerer (default: none).
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Validate checks c and fills in defaults; errors name the field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("commands: %s: "+format, append([]any{field}, a...)...))
	}
	if c.Lookup == nil {
		bad("lookup", "required (the inventory of sites)")
	}
	if c.Publish == nil {
		bad("publish", "required (the broker connection)")
	}
	if c.AuditDir == "" {
		bad("audit_dir", "required (a directory for the audit log)")
	}
	if c.Topics.Prefix == "" {
		c.Topics.Prefix = wire.DefaultPrefix
	}
	orDefault(bad, "expiry", "duration", &c.Expiry, DefaultExpiry)
	orDefault(bad, "max_expiry", "duration", &c.MaxExpiry, DefaultMaxExpiry)
	orDefault(bad, "grace", "duration", &c.Grace, DefaultGrace)
	orDefault(bad, "resend", "duration", &c.Resend, DefaultResend)
	orDefault(bad, "device_refill", "duration", &c.DeviceRefill, DefaultDeviceRefill)
	orDefault(bad, "operator_refill", "duration", &c.OperatorRefill, DefaultOperatorRefill)
	orDefault(bad, "final_wait", "duration", &c.FinalWait, DefaultFinalWait)
	orDefault(bad, "keep_ended", "duration", &c.KeepEnded, DefaultKeepEnded)
	orDefault(bad, "report_refill", "duration", &c.ReportRefill, DefaultReportRefill)
	orDefault(bad, "audit_retention", "duration", &c.AuditRetention, DefaultAuditRetention)
	orDefault(bad, "audit_retry_base", "duration", &c.AuditRetryBase, DefaultAuditRetryBase)
	orDefault(bad, "audit_retry_max", "duration", &c.AuditRetryMax, DefaultAuditRetryMax)
	if c.Expiry > c.MaxExpiry {
		bad("expiry", "%s is above max_expiry %s", c.Expiry, c.MaxExpiry)
	}
	orDefault(bad, "device_burst", "number", &c.DeviceBurst, DefaultDeviceBurst)
	orDefault(bad, "operator_burst", "number", &c.OperatorBurst, DefaultOperatorBurst)
	orDefault(bad, "max_open", "number", &c.MaxOpen, DefaultMaxOpen)
	orDefault(bad, "max_open_per_operator", "number", &c.MaxOpenPerOperator, DefaultMaxOpenPerOp)
	orDefault(bad, "report_burst", "number", &c.ReportBurst, DefaultReportBurst)
	orDefault(bad, "audit_queue", "number", &c.AuditQueue, DefaultAuditQueue)
	orDefault(bad, "audit_max_bytes", "size", &c.AuditMaxBytes, DefaultAuditMaxBytes)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return errors.Join(errs...)
}

// orDefault refuses a negative *v (a "positive what" is expected) and
// fills 0 with def.
func orDefault[T int | int64 | time.Duration](bad func(string, string, ...any), field, what string, v *T, def T) {
	if *v < 0 {
		bad(field, "%v: expected a positive "+what, *v)
	}
	if *v == 0 {
		*v = def
	}
}
