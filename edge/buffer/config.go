package buffer

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by Open to zero fields of Config.
const (
	DefaultSegmentBytes       = 64 << 20
	DefaultSyncInterval       = 100 * time.Millisecond
	DefaultMemoryRecords      = 100_000
	DefaultRetryInterval      = 10 * time.Second
	DefaultCheckpointInterval = time.Second
)

// MaxRecordBytes is the largest record Append accepts. Records are encoded
// readings of tens of bytes; anything near this size is a caller bug.
const MaxRecordBytes = 1 << 20

// minSegmentBytes keeps a segment able to hold at least a few records.
const minSegmentBytes = 4 << 10

// Config configures a Buffer. Zero fields take the defaults above.
type Config struct {
	// Dir holds the segment files and the metadata. It is created if
	// missing. One Buffer per directory: nothing locks it against a second
	// process.
	Dir string
	// SegmentBytes is the size at which the active segment is closed and a
	// new one started (default 64 MiB). Smaller segments free disk sooner
	// after acknowledgement and make the byte cap finer.
	SegmentBytes int64
	// MaxBytes caps the segment files on disk (0: no cap). When exceeded,
	// whole oldest segments are deleted, acknowledged or not, and their
	// unacknowledged records counted as dropped with reason "cap_bytes".
	// It must be at least 2 x SegmentBytes.
	MaxBytes int64
	// MaxAge drops unacknowledged records older than this (by append time)
	// with reason "cap_age" (0: no cap).
	MaxAge time.Duration
	// SyncInterval is the longest an appended record waits before the
	// group commit makes it durable (default 100ms).
	SyncInterval time.Duration
	// MemoryRecords bounds the records held in memory while the disk is
	// failing (default 100,000); beyond it the oldest are dropped with
	// reason "memory_full".
	MemoryRecords int
	// RetryInterval is how often a failed disk is tried again while
	// degraded (default 10s).
	RetryInterval time.Duration
	// CheckpointInterval is how often, at most, the metadata (acknowledged
	// sequence, recovery checkpoint) is rewritten when it changed (default
	// 1s). After a crash up to this much acknowledged data may be replayed.
	CheckpointInterval time.Duration
	// Logger receives state changes (nil: discard).
	Logger *slog.Logger
	// Registerer receives the metrics (nil: not registered).
	Registerer prometheus.Registerer
	// Now is the clock (nil: time.Now). Tests inject it for the age cap.
	Now func() time.Time
	// FS is the file system (nil: OSFS). Tests inject failures through it.
	FS FS
}

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("invalid buffer config")

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.SegmentBytes == 0 {
		c.SegmentBytes = DefaultSegmentBytes
		if c.MaxBytes > 0 && c.SegmentBytes > c.MaxBytes/4 {
			c.SegmentBytes = max(c.MaxBytes/4, minSegmentBytes)
		}
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.MemoryRecords == 0 {
		c.MemoryRecords = DefaultMemoryRecords
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.FS == nil {
		c.FS = OSFS{}
	}
	return c
}

// Validate checks c after defaults are applied, as Open does. Every error
// wraps ErrConfig and names the field.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...)))
	}
	if c.Dir == "" {
		bad("dir", "is required")
	}
	if c.SegmentBytes < minSegmentBytes {
		bad("segment_bytes", "%d is below the minimum %d", c.SegmentBytes, minSegmentBytes)
	}
	if c.MaxBytes < 0 {
		bad("max_bytes", "%d is negative", c.MaxBytes)
	} else if c.MaxBytes > 0 && c.MaxBytes < 2*c.SegmentBytes {
		bad("max_bytes", "%d is below 2 x segment_bytes (%d)", c.MaxBytes, 2*c.SegmentBytes)
	}
	if c.MaxAge < 0 {
		bad("max_age", "%s is negative", c.MaxAge)
	}
	if c.SyncInterval < 0 || c.SyncInterval > time.Minute {
		bad("sync_interval", "%s is outside (0, 1m]", c.SyncInterval)
	}
	if c.MemoryRecords < 0 {
		bad("memory_records", "%d is negative", c.MemoryRecords)
	}
	if c.RetryInterval < 0 {
		bad("retry_interval", "%s is negative", c.RetryInterval)
	}
	if c.CheckpointInterval < 0 {
		bad("checkpoint_interval", "%s is negative", c.CheckpointInterval)
	}
	return errors.Join(errs...)
}
