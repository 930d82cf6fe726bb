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

// writer takes batches from the queue and delivers them, until the sink is
// closing with nothing left to take or the run is stopped.
func (s *Sink) writer() {
	defer s.wg.Done()
	var refs []ref
	for {
		refs = s.take(refs[:0])
		if len(refs) == 0 {
			return
		}
		s.deliver(refs)
		s.mu.Lock()
		s.inflight--
		s.notifyLocked()
		s.mu.Unlock()
	}
}

// take waits until a batch is due and appends its lines to refs: at once
// when no other write is in flight (low latency when InfluxDB keeps up),
// otherwise when BatchSize lines wait or the oldest has waited
// FlushInterval (large writes when it does not). While writes are failing
// only the writer already retrying talks to InfluxDB. It returns refs
// empty when the writer should stop.
func (s *Sink) take(refs []ref) []ref {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.runCtx.Err() != nil {
			return refs
		}
		closing := s.closeCtx.Err() != nil
		var wait time.Duration
		if s.untaken > 0 && (!s.failing || s.inflight == 0) {
			due := closing || s.inflight == 0 || s.untaken >= s.minBatch()
			if !due {
				wait = time.Until(s.queue[0].enq.Add(s.cfg.FlushInterval))
				due = wait <= 0
			}
			if due {
				refs = s.takeLocked(refs)
				if len(refs) > 0 {
					s.inflight++
					return refs
				}
				continue
			}
		} else if s.untaken == 0 && closing {
			return refs
		}
		ch := s.changed
		s.mu.Unlock()
		var t *time.Timer
		var timeout <-chan time.Time
		if wait > 0 {
			t = time.NewTimer(wait)
			timeout = t.C
		}
		select {
		case <-ch:
		case <-timeout:
		case <-s.runCtx.Done():
		}
		if t != nil {
			t.Stop()
		}
		s.mu.Lock()
	}
}

// takeLocked moves up to BatchSize queued lines into refs, dropping the
// lines of abandoned jobs; s.mu is held.
func (s *Sink) takeLocked(refs []ref) []ref {
	for len(refs) < s.cfg.BatchSize && len(s.queue) > 0 {
		j := s.queue[0]
		left := len(j.ends) - j.taken
		if j.isAbandoned() {
			j.taken = len(j.ends)
			s.untaken -= left
			s.popLocked()
			s.abandonedLines(j, left)
			continue
		}
		k := min(s.cfg.BatchSize-len(refs), left)
		for i := j.taken; i < j.taken+k; i++ {
			refs = append(refs, ref{j: j, i: i})
		}
		j.taken += k
		s.untaken -= k
		if j.taken == len(j.ends) {
			s.popLocked()
		}
	}
	return refs
}

// popLocked removes the queue's first job; s.mu is held.
func (s *Sink) popLocked() {
	s.queue[0] = nil
	s.queue = s.queue[1:]
}

// abandonedLines ends n lines of an abandoned job unwritten.
func (s *Sink) abandonedLines(j *job, n int) {
	s.m.abandoned.Add(float64(n))
	j.finish(n, nil, nil)
}

// outcome is how one delivery attempt of a batch ended.
type outcome int

const (
	sentOK      outcome = iota // InfluxDB accepted every line
	sentRefused                // InfluxDB refused lines of it (400, 422, 413)
	sentEmpty                  // every line's caller gave up; nothing to send
	sentStopped                // the run was stopped before it was accepted
)

// deliver writes refs, splitting off the lines InfluxDB refuses: lines the
// refusal names are rejected and the rest sent again (InfluxDB may have
// written them already; writing a point again overwrites it); when the
// refusal names none, the batch is halved until each refused line stands
// alone.
func (s *Sink) deliver(refs []ref) {
	work := [][]ref{refs}
	for len(work) > 0 {
		b := work[len(work)-1]
		work = work[:len(work)-1]
		res, ref := s.sendRetrying(&b)
		switch res {
		case sentEmpty:
		case sentOK:
			s.settle(b, nil, true)
		case sentStopped:
			s.settleErr(b, ErrClosed)
			for _, w := range work {
				s.settleErr(w, ErrClosed)
			}
			return
		case sentRefused:
			lines := make([][]byte, len(b))
			for i, r := range b {
				lines[i] = r.j.line(r.i)
			}
			bad := attribute(ref, lines)
			if len(bad) == 0 {
				if len(b) > 1 {
					mid := len(b) / 2
					work = append(work, b[mid:], b[:mid])
					continue
				}
				bad = map[int]string{0: clip(ref.Message)}
			}
			s.logRefusal(b, bad, ref)
			if rest := s.settle(b, bad, false); len(rest) > 0 {
				work = append(work, rest)
			}
		}
	}
}

// settle ends the lines of b that bad names as rejected and, when
// written, all others as written; otherwise it returns the others.
func (s *Sink) settle(b []ref, bad map[int]string, written bool) (rest []ref) {
	if !written {
		rest = make([]ref, 0, len(b)-len(bad))
	}
	nbad := 0
	for start := 0; start < len(b); {
		j := b[start].j
		end := start
		var rej []rejectedLine
		n := 0
		for ; end < len(b) && b[end].j == j; end++ {
			if why, ok := bad[end]; ok {
				rej = append(rej, rejectedLine{line: b[end].i, reason: why})
				n++
			} else if written {
				n++
			} else {
				rest = append(rest, b[end])
			}
		}
		nbad += len(rej)
		if n > 0 {
			j.finish(n, rej, nil)
		}
		start = end
	}
	if written {
		ok := len(b) - nbad
		s.points.Add(int64(ok))
		s.m.points.Add(float64(ok))
	}
	if nbad > 0 {
		s.rejected.Add(int64(nbad))
		s.m.rejected.WithLabelValues("server").Add(float64(nbad))
	}
	return rest
}

// settleErr ends the lines of b unwritten with err.
func (s *Sink) settleErr(b []ref, err error) {
	for start := 0; start < len(b); {
		j := b[start].j
		end := start
		for end < len(b) && b[end].j == j {
			end++
		}
		j.finish(end-start, nil, err)
		start = end
	}
}

// dropAbandoned removes from *b the lines whose callers gave up.
func (s *Sink) dropAbandoned(b *[]ref) {
	out := (*b)[:0]
	for start := 0; start < len(*b); {
		j := (*b)[start].j
		end := start
		for end < len(*b) && (*b)[end].j == j {
			end++
		}
		if j.isAbandoned() {
			s.abandonedLines(j, end-start)
		} else {
			out = append(out, (*b)[start:end]...)
		}
		start = end
	}
	*b = out
}

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
		switch he.StatusCode {
		case 400, 413, 422:
			s.m.requests.WithLabelValues("refused").Inc()
			return sentRefused, parseRefusal(c.body, he.Message), nil
		}
		if he.StatusCode != 0 && len(c.body) > 0 {
			we.err = errors.New("status " + strconv.Itoa(he.StatusCode) + ": " + clip(parseRefusal(c.body, he.Message).Message))
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

// logRefusal logs one line per refused batch (not per reading).
func (s *Sink) logRefusal(b []ref, bad map[int]string, r refusal) {
	var first string
	for i := range b {
		if why, ok := bad[i]; ok {
			first = why
			break
		}
	}
	s.log.Warn("influxdb refused points", "points", len(bad), "of", len(b), "reason", first)
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

// minBatch is the size at which a free writer sends without lingering
// while another write is in flight: a tenth of BatchSize keeps both
// writers busy with worthwhile batches, where waiting for a full batch
// would leave one idle when fewer than BatchSize points can be pending.
func (s *Sink) minBatch() int { return max(1, s.cfg.BatchSize/10) }
