package influx

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/influxtest"

	"github.com/ponte-city/ponte/internal/testenv"
)

// hourBackoff sets a backoff so long that only the readiness probe can
// explain a retry within a test, and a fast probe.
func hourBackoff(c *Config) {
	c.RetryBase, c.RetryMax = time.Hour, time.Hour
	c.ProbeInterval = 20 * time.Millisecond
	c.Timeout = 2 * time.Second
}

// TestProbeResumesAfterOutage: InfluxDB becomes unreachable (a proxy the
// test controls resets every connection), a Write is held, InfluxDB comes
// back, and the held Write lands although the retry backoff is an hour:
// the /ping probe ended the wait, and the sink says so.
func TestProbeResumesAfterOutage(t *testing.T) {
	srv := influxtest.Start(t)
	u, _ := url.Parse(srv.URL)
	px := testenv.StartProxy(t, u.Host)
	var logs syncBuffer
	s := newSink(t, "http://"+px.Addr(), srv.Bucket, hourBackoff, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	mustWrite(t, s, "gw-1", floats("cab-1", "voltage", time.Unix(1_700_001_000, 0), 10))

	// The first Write's job is released just after it returns; wait, so
	// that the outage holds exactly the next one.
	testenv.Eventually(t, 10*time.Second, "the first write settles", func() bool { return s.Stats().Pending == 0 })
	before := len(logs.String())
	px.Cut()
	done := make(chan error, 1)
	go func() {
		_, err := s.Write(context.Background(), "gw-1", floats("cab-1", "voltage", time.Unix(1_700_001_100, 0), 10))
		done <- err
	}()
	testenv.Eventually(t, 10*time.Second, "the write fails and the sink backs off", s.Backpressure)
	testenv.Eventually(t, 10*time.Second, "probes while unreachable", func() bool { return s.Stats().Probes >= 3 })
	select {
	case err := <-done:
		t.Fatalf("Write returned while InfluxDB was unreachable: %v", err)
	default:
	}
	if st := s.Stats(); st.ProbeResumes != 0 || s.Healthy() {
		t.Fatalf("while unreachable: probe resumes %d, healthy %v", st.ProbeResumes, s.Healthy())
	}

	px.Heal()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the held Write did not land after InfluxDB came back (stats %+v)", s.Stats())
	}
	st := s.Stats()
	if st.ProbeResumes != 1 {
		t.Errorf("probe resumes = %d, want 1 (the backoff is an hour; only the probe can resume)", st.ProbeResumes)
	}
	testenv.Eventually(t, 10*time.Second, "the sink drains", func() bool { return s.Stats().Pending == 0 })
	if s.Backpressure() || !s.Healthy() {
		t.Errorf("after the resume: backpressure %v, healthy %v", s.Backpressure(), s.Healthy())
	}
	if got := srv.Count(t, `SELECT count(voltage) FROM "energy"`); got != 20 {
		t.Errorf("InfluxDB holds %d points, want 20", got)
	}
	// One line when it went, one when it came back; none per probe.
	out := logs.String()[before:]
	if n := strings.Count(out, "InfluxDB unreachable; holding 1 batches, gateways are not acknowledged until it is back"); n != 1 {
		t.Errorf("%d outage lines, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "InfluxDB is back"); n != 1 || !strings.Contains(out, "resumed_by=probe") || !strings.Contains(out, "outage=") {
		t.Errorf("want one line saying InfluxDB is back, resumed by the probe, with the outage's duration:\n%s", out)
	}
	if strings.Contains(out, "failed again") {
		t.Errorf("a retry logged above Debug:\n%s", out)
	}
	// The sink drained: a new write goes straight through.
	mustWrite(t, s, "gw-1", floats("cab-1", "voltage", time.Unix(1_700_001_200, 0), 10))
	if got := srv.Count(t, `SELECT count(voltage) FROM "energy"`); got != 30 {
		t.Errorf("InfluxDB holds %d points after the drain, want 30", got)
	}
}

// TestNoProbeWhenServerAnswers: a server that answers /ping but refuses
// writes (404: no such database) keeps the backoff; no probe ends it, so
// there is exactly one write attempt within the caller's deadline.
func TestNoProbeWhenServerAnswers(t *testing.T) {
	srv := influxtest.Start(t)
	s := newSink(t, srv.URL, "nosuchdb/autogen", hourBackoff)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := s.Write(ctx, "gw-1", floats("cab-1", "voltage", time.Unix(1_700_001_300, 0), 5))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
	st := s.Stats()
	if st.Requests != 1 || st.Probes != 0 || st.ProbeResumes != 0 {
		t.Errorf("requests %d, probes %d, probe resumes %d; want 1, 0, 0 (no hot loop against a server that answers)", st.Requests, st.Probes, st.ProbeResumes)
	}
}

// BenchmarkBackToWrite measures the time from InfluxDB becoming reachable
// again to the held write being accepted, with an hour of backoff so that
// the probe alone resumes it.
func BenchmarkBackToWrite(b *testing.B) {
	srv := influxtest.Start(b)
	u, _ := url.Parse(srv.URL)
	px := testenv.StartProxy(b, u.Host)
	s := newSink(b, "http://"+px.Addr(), srv.Bucket, func(c *Config) {
		hourBackoff(c)
		c.ProbeInterval = DefaultProbeInterval
	})
	base := time.Unix(1_700_002_000, 0)
	mustWrite(b, s, "gw-1", floats("cab-1", "voltage", base, 10))
	var total time.Duration
	n := 0
	// The timer runs throughout (a cycle is about one probe interval), so
	// that -benchtime 1s means a few outages, not a million.
	for b.Loop() {
		n++
		px.Cut()
		done := make(chan time.Time, 1)
		go func() {
			if _, err := s.Write(context.Background(), "gw-1", floats("cab-1", "voltage", base.Add(time.Duration(n)*time.Second), 10)); err != nil {
				b.Errorf("write: %v", err)
			}
			done <- time.Now()
		}()
		testenv.Eventually(b, 10*time.Second, "backing off", s.Backpressure)
		back := time.Now()
		px.Heal()
		total += (<-done).Sub(back)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(n), "back_to_write-ms")
	b.ReportMetric(DefaultProbeInterval.Seconds()*1000, "probe_interval-ms")
}

// syncBuffer is a bytes.Buffer safe for the sink's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
