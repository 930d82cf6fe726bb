package influx

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/testenv"
)

// TestOutage stops InfluxDB during steady writes from several producers
// and starts it again: Write calls block instead of failing, Healthy and
// Backpressure follow the outage, and afterwards every reading of every
// returned Write is in InfluxDB exactly once.
func TestOutage(t *testing.T) {
	srv := influxtest.Start(t)
	s := sinkOn(t, srv, func(c *Config) { c.BatchSize = 100 })
	const producers, perWrite = 4, 50
	t0 := time.Unix(1_700_000_200, 0)
	var (
		stop      atomic.Bool
		written   atomic.Int64 // readings of Writes that returned nil
		inWrite   atomic.Int64
		calls     atomic.Int64
		wg        sync.WaitGroup
		errsMu    sync.Mutex
		writeErrs []error
	)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dev := "cab-" + strconv.Itoa(p)
			for n := 0; !stop.Load() && n < 100_000; n++ {
				rs := floats(dev, "voltage", t0.Add(time.Duration(n)*time.Second), perWrite)
				calls.Add(1)
				inWrite.Add(1)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				rej, err := s.Write(ctx, "gw-1", rs)
				cancel()
				inWrite.Add(-1)
				if err != nil || len(rej) > 0 {
					errsMu.Lock()
					writeErrs = append(writeErrs, errors.Join(err, errors.New(strconv.Itoa(len(rej))+" rejected")))
					errsMu.Unlock()
					return
				}
				written.Add(perWrite)
			}
		}()
	}
	testenv.Eventually(t, 10*time.Second, "first writes", func() bool { return written.Load() >= 2000 })
	srv.Stop()
	testenv.Eventually(t, 10*time.Second, "Healthy false while InfluxDB is down", func() bool { return !s.Healthy() })
	if !s.Backpressure() {
		t.Error("no backpressure while writes fail")
	}
	// Give the retry timer several rounds against a dead server.
	retriesBefore := s.Stats().Retries
	testenv.Eventually(t, 10*time.Second, "retries while down", func() bool { return s.Stats().Retries >= retriesBefore+3 })
	blocked := inWrite.Load()
	if blocked == 0 {
		t.Error("no Write call is blocked while InfluxDB is down")
	}
	writtenWhileDown := written.Load()
	srv.Start()
	testenv.Eventually(t, 20*time.Second, "Healthy true after restart", s.Healthy)
	testenv.Eventually(t, 20*time.Second, "writes resume", func() bool { return written.Load() >= writtenWhileDown+2000 })
	if s.Backpressure() {
		// It may be set by a later, unrelated hiccup; report it but let the
		// counts decide.
		t.Log("backpressure still set after recovery")
	}
	stop.Store(true)
	wg.Wait()
	if len(writeErrs) > 0 {
		t.Fatalf("Write returned errors: %v", writeErrs)
	}
	got := srv.Count(t, `SELECT count(voltage) FROM "energy"`)
	if got != written.Load() {
		t.Errorf("InfluxDB holds %d points, Write acknowledged %d", got, written.Load())
	}
	t.Logf("%d writes, %d readings, %d blocked during the outage, stats %+v", calls.Load(), written.Load(), blocked, s.Stats())
}

// TestRetryOnTimer: one Write against a stopped InfluxDB is retried by the
// sink's timer alone, and returns once InfluxDB is back, with no other
// Write call to trigger it.
func TestRetryOnTimer(t *testing.T) {
	srv := influxtest.Start(t)
	s := sinkOn(t, srv)
	mustWrite(t, s, "gw-1", floats("cab-1", "voltage", time.Unix(1_700_000_300, 0), 10))
	srv.Stop()
	done := make(chan error, 1)
	go func() {
		_, err := s.Write(context.Background(), "gw-1", floats("cab-1", "voltage", time.Unix(1_700_000_400, 0), 10))
		done <- err
	}()
	testenv.Eventually(t, 10*time.Second, "several tries against the stopped server", func() bool { return s.Stats().Requests >= 4 })
	select {
	case err := <-done:
		t.Fatalf("Write returned while InfluxDB was down: %v", err)
	default:
	}
	if s.Healthy() {
		t.Error("healthy while down")
	}
	srv.Start()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Write did not return within 20s of InfluxDB's restart")
	}
	if got := srv.Count(t, `SELECT count(voltage) FROM "energy"`); got != 20 {
		t.Errorf("%d points, want 20", got)
	}
	if !s.Healthy() {
		t.Error("not healthy after the retried write succeeded")
	}
}

// TestWrongBucketIsRetriedNotRejected: a 404 (database not found) is a
// configuration problem; no reading is dead-lettered for it.
func TestWrongBucketIsRetriedNotRejected(t *testing.T) {
	srv := influxtest.Start(t)
	s := newSink(t, srv.URL, "nosuchdb/autogen")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	rej, err := s.Write(ctx, "gw-1", floats("cab-1", "voltage", time.Unix(1_700_000_500, 0), 5))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's deadline", err)
	}
	if len(rej) != 0 {
		t.Errorf("%d readings rejected for a wrong bucket", len(rej))
	}
	if s.Healthy() || !s.Backpressure() {
		t.Errorf("healthy %v, backpressure %v with a wrong bucket", s.Healthy(), s.Backpressure())
	}
	// Once the database exists the sink's retries get through.
	srv.Exec(t, `CREATE DATABASE nosuchdb`)
	mustWrite(t, s, "gw-1", floats("cab-1", "voltage", time.Unix(1_700_000_600, 0), 5))
}

// TestBackpressureBoundsPending: while InfluxDB is down, the points held
// never exceed MaxPending, whatever the number of callers.
func TestBackpressureBoundsPending(t *testing.T) {
	srv := influxtest.Start(t)
	const batch, maxPending, callers, each = 10, 30, 8, 10
	s := sinkOn(t, srv, func(c *Config) { c.BatchSize = batch; c.MaxPending = maxPending })
	srv.Stop()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Write(context.Background(), "gw-1", floats("cab-"+strconv.Itoa(c), "v", time.Unix(1_700_000_700, 0), each))
			if err != nil {
				failed.Add(1)
			}
		}()
	}
	testenv.Eventually(t, 10*time.Second, "pending reaches the cap", func() bool { return s.Stats().Pending == maxPending })
	for range 20 {
		if p := s.Stats().Pending; p > maxPending {
			t.Fatalf("pending %d > MaxPending %d", p, maxPending)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !s.Backpressure() {
		t.Error("no backpressure at the cap")
	}
	srv.Start()
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d writes failed", failed.Load())
	}
	if got := srv.Count(t, `SELECT count(v) FROM "energy"`); got != callers*each {
		t.Errorf("%d points, want %d", got, callers*each)
	}
	if p := s.Stats().Pending; p != 0 {
		t.Errorf("pending %d after all writes returned", p)
	}
}

// TestCancelAndClose: a Write whose context ends returns the context's
// error; Close with a short deadline fails the blocked writes with
// ErrClosed and later writes at once.
func TestCancelAndClose(t *testing.T) {
	srv := influxtest.Start(t)
	s := sinkOn(t, srv)
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := s.Write(ctx, "gw-1", floats("cab-1", "v", time.Unix(1_700_000_800, 0), 3))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	// The cancelled write's points are dropped at the next retry.
	testenv.Eventually(t, 5*time.Second, "the cancelled write's points dropped", func() bool { return s.Stats().Pending == 0 })
	blocked := make(chan error, 1)
	go func() {
		_, err := s.Write(context.Background(), "gw-1", floats("cab-2", "v", time.Unix(1_700_000_800, 0), 3))
		blocked <- err
	}()
	testenv.Eventually(t, 5*time.Second, "the write is queued", func() bool { return s.Stats().Pending >= 3 })
	cctx, ccancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer ccancel()
	if err := s.Close(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close with points left = %v, want deadline exceeded", err)
	}
	select {
	case err := <-blocked:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("blocked write: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked write did not return after Close")
	}
	if _, err := s.Write(context.Background(), "gw-1", floats("cab-3", "v", time.Unix(1_700_000_800, 0), 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("write after close: %v, want ErrClosed", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestCloseDrains: Close waits for points already accepted.
func TestCloseDrains(t *testing.T) {
	srv := influxtest.Start(t)
	s := sinkOn(t, srv)
	var wg sync.WaitGroup
	for c := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = s.Write(context.Background(), "gw-1", floats("cab-"+strconv.Itoa(c), "v", time.Unix(1_700_000_900, 0), 100))
		}()
	}
	testenv.Eventually(t, 5*time.Second, "writes accepted", func() bool { return s.Stats().Pending+s.Stats().Points == 1000 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	if got := srv.Count(t, `SELECT count(v) FROM "energy"`); got != 1000 {
		t.Errorf("%d points after Close, want 1000", got)
	}
}
