package influx

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"

	"github.com/ponte-city/ponte/internal/backoff"
)

// sendRetrying sends *b until InfluxDB accepts or refuses it, waiting out
// the shared backoff between tries.
func (s *Sink) sendRetrying(b *[]ref) (outcome, refusal) {
	for retry := false; ; retry = true {
		s.dropAbandoned(b)
		if len(*b) == 0 {
			return sentEmpty, refusal{}
		}
		s.mu.Lock()
		wait := time.Duration(0)
		if s.failing {
			wait = time.Until(s.retryAt)
		}
		s.mu.Unlock()
		probed := false
		if wait > 0 {
			var stopped bool
			if probed, stopped = s.waitRetry(wait); stopped {
				return sentStopped, refusal{}
			}
		}
		if retry {
			s.retries.Add(1)
			s.m.retries.Inc()
		}
		if s.runCtx.Err() != nil {
			return sentStopped, refusal{}
		}
		res, ref, err := s.send(*b)
		if err == nil {
			s.recovered(probed)
			return res, ref
		}
		if s.runCtx.Err() != nil {
			return sentStopped, refusal{}
		}
		s.failed(err)
		s.dropAbandoned(b)
	}
}

// writeError is a failed write InfluxDB may accept when tried again.
type writeError struct {
	status     int // 0 for network errors
	retryAfter time.Duration
	err        error
}

func (e *writeError) Error() string { return e.err.Error() }

// send makes one HTTP write of b.
func (s *Sink) send(b []ref) (outcome, refusal, *writeError) {
	size := 0
	for _, r := range b {
		size += len(r.j.line(r.i)) + 1
	}
	var body strings.Builder
	body.Grow(size)
	for _, r := range b {
		start := 0
		if r.i > 0 {
			start = r.j.ends[r.i-1]
		}
		body.Write(r.j.buf[start:r.j.ends[r.i]])
	}
	var c capture
	ctx, cancel := context.WithTimeout(withCapture(s.runCtx, &c), s.cfg.Timeout)
	start := time.Now()
	err := s.api.WriteRecord(ctx, body.String())
	cancel()
	s.requests.Add(1)
	s.m.duration.Observe(time.Since(start).Seconds())
	s.m.batch.Observe(float64(len(b)))
	s.mu.Lock()
	s.lastUsed = time.Now()
	s.mu.Unlock()
	if err == nil {
		s.m.requests.WithLabelValues("ok").Inc()
		return sentOK, refusal{}, nil
	}
	we := &writeError{err: err}
	var he *http2.Error
	if errors.As(err, &he) {
		we.status = he.StatusCode
		we.retryAfter = time.Duration(he.RetryAfter) * time.Second
		ref := parseRefusal(c.body, he.Message)
		// InfluxDB 2.0 answered some partial writes with 500; they concern
		// points like any other partial write and would fail forever.
		if he.StatusCode == 400 || he.StatusCode == 413 || he.StatusCode == 422 ||
			(he.StatusCode == 500 && strings.Contains(ref.Message, "partial write:")) {
			s.m.requests.WithLabelValues("refused").Inc()
			return sentRefused, ref, nil
		}
		if he.StatusCode != 0 && ref.Message != "" {
			we.err = errors.New("status " + strconv.Itoa(he.StatusCode) + ": " + clip(ref.Message))
		}
	}
	s.m.requests.WithLabelValues("retry").Inc()
	return 0, refusal{}, we
}

// recovered records a write InfluxDB answered (accepted or refused);
// probed says a readiness probe ended the backoff before it.
func (s *Sink) recovered(probed bool) {
	s.setHealthy(true)
	s.mu.Lock()
	was, attempts, since := s.failing, s.attempts, s.failingSince
	s.failing, s.attempts, s.unreachable = false, 0, false
	if was {
		s.notifyLocked()
	}
	s.mu.Unlock()
	if !was {
		return
	}
	s.m.failing.Set(0)
	resumedBy := "retry"
	if probed {
		resumedBy = "probe"
		s.probeResumes.Add(1)
		s.m.probeResumes.Inc()
	}
	s.log.Info("InfluxDB is back; writing the held batches, gateways are acknowledged again",
		"url", s.cfg.URL, "outage", time.Since(since).Round(time.Millisecond),
		"failed_attempts", attempts, "resumed_by", resumedBy, "held_batches", s.heldJobs.Load())
}

// failed records a write that failed and sets the next try's time.
func (s *Sink) failed(err *writeError) {
	s.setHealthy(false)
	s.mu.Lock()
	s.attempts++
	// Doubling per failed attempt, with jitter over its upper half so that
	// ingest instances do not retry in step.
	d := backoff.Policy{Base: s.cfg.RetryBase, Max: s.cfg.RetryMax, Jitter: backoff.Equal}.Wait(s.attempts - 1)
	if err.retryAfter > d {
		d = min(err.retryAfter, s.cfg.RetryMax)
	}
	s.retryAt = time.Now().Add(d)
	was, attempts := s.failing, s.attempts
	if !was {
		s.failingSince = time.Now()
	}
	s.failing = true
	unr := unreachable(err)
	s.unreachable = unr
	s.mu.Unlock()
	s.m.failing.Set(1)
	held := s.heldJobs.Load()
	switch {
	case was:
		// One line per outage, not per retry.
		s.log.Debug("influxdb write failed again", "url", s.cfg.URL, "status", err.status,
			"error", err.err, "attempt", attempts, "retry_in", d)
	case err.status >= 400 && err.status < 500 && err.status != 429:
		// 401, 403, 404: the URL, token or bucket is wrong, not the points.
		s.log.Error("InfluxDB refuses ingest's writes (check url, token and bucket); holding the batches, gateways are not acknowledged until it accepts",
			"url", s.cfg.URL, "status", err.status, "error", err.err, "held_batches", held, "retry_in", d)
	case unr:
		s.log.Info(fmt.Sprintf("InfluxDB unreachable; holding %d batches, gateways are not acknowledged until it is back", held),
			"url", s.cfg.URL, "error", err.err, "held_batches", held, "probe_interval", s.cfg.ProbeInterval)
	default:
		s.log.Warn(fmt.Sprintf("InfluxDB is failing writes; holding %d batches, gateways are not acknowledged until it accepts them", held),
			"url", s.cfg.URL, "status", err.status, "error", err.err, "held_batches", held, "retry_in", d)
	}
}

// unreachable reports whether err says InfluxDB could not be reached at
// all (connection refused or reset, timeout, DNS), as opposed to InfluxDB
// answering with an error. Only then does a successful ping mean a write
// may now succeed.
func unreachable(err *writeError) bool { return err.status == 0 }

// unreachableNow reports whether the last failed write found InfluxDB
// unreachable.
func (s *Sink) unreachableNow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unreachable
}

// waitRetry waits for the backoff d before the next try. While the last
// failure found InfluxDB unreachable it pings /ping every ProbeInterval
// and ends the wait early, with probed true, once InfluxDB answers. A
// server that answers but refuses writes (5xx, 401, 404, 429) is never
// probed: its backoff runs in full, so a ping that succeeds while writes
// fail cannot turn into a hot loop. stopped reports that the run ended.
func (s *Sink) waitRetry(d time.Duration) (probed, stopped bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	var tick <-chan time.Time
	if s.cfg.ProbeInterval > 0 && s.unreachableNow() {
		pt := time.NewTicker(s.cfg.ProbeInterval)
		defer pt.Stop()
		tick = pt.C
	}
	for {
		select {
		case <-t.C:
			return false, false
		case <-s.runCtx.Done():
			return false, true
		case <-tick:
			if s.probe() {
				return true, false
			}
		}
	}
}

// probe pings InfluxDB once, bounded by the probe interval (at least a
// second, at most Timeout), and reports whether it answered.
func (s *Sink) probe() bool {
	ctx, cancel := context.WithTimeout(s.runCtx, min(s.cfg.Timeout, max(s.cfg.ProbeInterval, time.Second)))
	defer cancel()
	s.probes.Add(1)
	ok, err := s.client.Ping(ctx)
	return ok && err == nil
}

// setHealthy sets Healthy and its gauge.
func (s *Sink) setHealthy(ok bool) {
	s.healthy.Store(ok)
	if ok {
		s.m.healthy.Set(1)
	} else {
		s.m.healthy.Set(0)
	}
}

// pinger pings InfluxDB when the sink has been idle for PingInterval, so
// that Healthy stays current without traffic; it also pings once at start.
func (s *Sink) pinger() {
	defer s.wg.Done()
	s.ping()
	t := time.NewTicker(s.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.closeCtx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		idle := !s.failing && s.inflight == 0 && time.Since(s.lastUsed) >= s.cfg.PingInterval
		s.mu.Unlock()
		if idle {
			s.ping()
		}
	}
}

// ping asks InfluxDB whether it is up; a failing sink keeps Healthy false
// until a write succeeds.
func (s *Sink) ping() {
	ctx, cancel := context.WithTimeout(s.closeCtx, s.cfg.Timeout)
	defer cancel()
	ok, err := s.client.Ping(ctx)
	s.mu.Lock()
	s.lastUsed = time.Now()
	failing := s.failing
	s.mu.Unlock()
	if s.closeCtx.Err() != nil || failing {
		return
	}
	up := ok && err == nil
	if was := s.healthy.Load(); was != up {
		if up {
			s.log.Info("influxdb answers", "url", s.cfg.URL)
		} else {
			s.log.Warn("influxdb does not answer", "url", s.cfg.URL, "error", err)
		}
	}
	s.setHealthy(up)
}
