package influx

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestConfigValidate(t *testing.T) {
	good := Config{URL: "http://127.0.0.1:8086", Bucket: "ponte/autogen"}
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string // fragments the error must name; none: valid
	}{
		{"defaults", func(c *Config) {}, nil},
		{"https with org and token", func(c *Config) { c.URL = "https://influx.example:8086"; c.Org = "city"; c.Token = "t" }, nil},
		{"missing url and bucket", func(c *Config) { c.URL = ""; c.Bucket = "" }, []string{"url: missing", "bucket: missing"}},
		{"bad scheme", func(c *Config) { c.URL = "ftp://x" }, []string{`url: "ftp://x": scheme "ftp"`}},
		{"no host", func(c *Config) { c.URL = "http://" }, []string{"has no host"}},
		{"unparsable url", func(c *Config) { c.URL = "http://[::1" }, []string{"does not parse"}},
		{"negative numbers", func(c *Config) { c.BatchSize = -1; c.Writers = -2 }, []string{"batch_size: -1", "writers: -2"}},
		{"negative durations", func(c *Config) { c.Timeout = -time.Second; c.FlushInterval = -1 }, []string{"timeout: -1s", "flush_interval"}},
		{"retry order", func(c *Config) { c.RetryBase = time.Minute; c.RetryMax = time.Second }, []string{"retry_max: 1s is less than retry_base 1m0s"}},
		{"pending below batch", func(c *Config) { c.BatchSize = 100; c.MaxPending = 10 }, []string{"max_pending: 10 is less than batch_size 100"}},
		{"bad measurement", func(c *Config) { c.Measurement = "#x" }, []string{"measurement"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mutate(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted %+v", c)
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error does not wrap ErrConfig: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if _, nerr := New(c, nil); nerr == nil {
				t.Errorf("New accepted the config")
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{URL: "http://x", Bucket: "b"}.withDefaults()
	if c.Measurement != DefaultMeasurement || c.BatchSize != DefaultBatchSize || c.FlushInterval != DefaultFlushInterval ||
		c.Timeout != DefaultTimeout || c.RetryBase != DefaultRetryBase || c.RetryMax != DefaultRetryMax ||
		c.Writers != DefaultWriters || c.MaxPending != DefaultMaxPendingBatches*DefaultBatchSize*DefaultReadingsPerLine || c.Logger == nil {
		t.Errorf("defaults not applied: %+v", c)
	}
	// A RetryBase above the default maximum raises the maximum with it.
	if c := (Config{URL: "http://x", Bucket: "b", RetryBase: time.Minute}).withDefaults(); c.RetryMax != time.Minute {
		t.Errorf("RetryMax %s with RetryBase 1m", c.RetryMax)
	}
}

func TestMetricsOnePerRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := Config{URL: "http://127.0.0.1:1", Bucket: "b", Registerer: reg}
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("first sink: %v", err)
	}
	defer s.Close(context.Background())
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "one sink per registry") {
		t.Errorf("second sink on the same registry: %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"ponte_ingest_influx_pending_points", "ponte_ingest_influx_healthy", "ponte_ingest_influx_points_written_total"} {
		if !names[n] {
			t.Errorf("metric %s not registered (have %v)", n, names)
		}
	}
}
