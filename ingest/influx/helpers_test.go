package influx

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/wire"
)

// testMeta places devices named "cab-*" in Firenze as energy devices and
// "aq-*" in Bari as air stations; others are unknown.
func testMeta(gateway, device string) (string, string) {
	switch {
	case len(device) > 4 && device[:4] == "cab-":
		return "Firenze", "energy"
	case len(device) > 3 && device[:3] == "aq-":
		return "Bari", "air"
	}
	return "", ""
}

// fastRetry makes outages short in tests.
func fastRetry(c *Config) {
	c.RetryBase = 20 * time.Millisecond
	c.RetryMax = 200 * time.Millisecond
	c.Timeout = 2 * time.Second
}

// newSink starts a sink on url/bucket with fast retries, closed when the
// test ends.
func newSink(t testing.TB, url, bucket string, mutate ...func(*Config)) *Sink {
	t.Helper()
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	cfg := Config{
		URL:        url,
		Bucket:     bucket,
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
		Registerer: prometheus.NewRegistry(),
	}
	fastRetry(&cfg)
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := New(cfg, testMeta)
	if err != nil {
		t.Fatalf("new sink: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

// sinkOn starts a sink writing to srv.
func sinkOn(t testing.TB, srv *influxtest.Server, mutate ...func(*Config)) *Sink {
	return newSink(t, srv.URL, srv.Bucket, mutate...)
}

// queueOf returns a queue of cfg (the energy measurement, defaults
// applied) with testMeta, for tests of the queue without InfluxDB.
func queueOf(t *testing.T, cfg Config) *queue {
	t.Helper()
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Measurement = DefaultMeasurement
	return newQueue(cfg.withDefaults(), testMeta, m)
}

// floats returns n float readings of device dev, point p, at times base,
// base+1µs, ... with value i.
func floats(dev, p string, base time.Time, n int) []wire.Reading {
	rs := make([]wire.Reading, n)
	for i := range rs {
		rs[i] = wire.Reading{Device: dev, Point: p, Value: wire.Float(float64(i) + 0.5), Unit: "V", Time: base.Add(time.Duration(i) * time.Microsecond)}
	}
	return rs
}

// countingTransport counts HTTP requests and delays each by delay, so that
// concurrent writes pile up behind one in flight.
type countingTransport struct {
	base  http.RoundTripper
	delay time.Duration
	n     atomic.Int64
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == "/api/v2/write" {
		c.n.Add(1)
		time.Sleep(c.delay)
	}
	return c.base.RoundTrip(req)
}

// mustWrite writes readings and fails t on an error or a rejection.
func mustWrite(t testing.TB, s *Sink, gateway string, rs []wire.Reading) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rej, err := s.Write(ctx, gateway, rs)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if len(rej) > 0 {
		t.Fatalf("write: %d rejected, first: %s", len(rej), rej[0].Reason)
	}
}

// q formats an InfluxQL query.
func q(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// nan returns a NaN without a constant expression.
func nan() float64 { return math.NaN() }
