package influx

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
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
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-s.runCtx.Done():
				t.Stop()
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
			s.recovered()
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

// recovered records a write InfluxDB answered (accepted or refused).
func (s *Sink) recovered() {
	s.setHealthy(true)
	s.mu.Lock()
	was, attempts := s.failing, s.attempts
	s.failing, s.attempts = false, 0
	if was {
		s.notifyLocked()
	}
	s.mu.Unlock()
	if was {
		s.m.failing.Set(0)
		s.log.Info("influxdb writes recovered", "url", s.cfg.URL, "failed_attempts", attempts)
	}
}

// failed records a write that failed and sets the next try's time.
func (s *Sink) failed(err *writeError) {
	s.setHealthy(false)
	s.mu.Lock()
	s.attempts++
	d := backoff(s.cfg.RetryBase, s.cfg.RetryMax, s.attempts)
	if err.retryAfter > d {
		d = min(err.retryAfter, s.cfg.RetryMax)
	}
	s.retryAt = time.Now().Add(d)
	was, attempts := s.failing, s.attempts
	s.failing = true
	s.mu.Unlock()
	s.m.failing.Set(1)
	level := slog.LevelDebug
	if !was {
		level = slog.LevelWarn
	}
	if err.status >= 400 && err.status < 500 && err.status != 429 {
		// 401, 403, 404: the URL, token or bucket is wrong, not the points.
		level = slog.LevelError
	}
	s.log.Log(context.Background(), level, "influxdb write failed, retrying",
		"url", s.cfg.URL, "status", err.status, "error", err.err, "attempt", attempts, "retry_in", d)
}

// backoff returns the wait before try attempt+1: base doubled per failed
// attempt up to max, with jitter over its upper half so that ingest
// instances do not retry in step.
func backoff(base, max time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half+1)
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
