package influx

import (
	"context"
	"fmt"
	"time"

	"github.com/ponte-city/ponte/internal/backoff"
)

// sendRetrying sends *b until InfluxDB accepts or refuses it, waiting out
// the shared backoff between tries and dropping (l.prune) the lines whose
// callers gave up before each. It returns sentStopped when ctx ends first.
func (c *client) sendRetrying(ctx context.Context, b *batch, l ledger) (outcome, refusal) {
	for retry := false; ; retry = true {
		*b = l.prune(*b)
		if len(*b) == 0 {
			return sentEmpty, refusal{}
		}
		c.mu.Lock()
		wait := time.Duration(0)
		if c.isFailing {
			wait = time.Until(c.retryAt)
		}
		c.mu.Unlock()
		probed := false
		if wait > 0 {
			var stopped bool
			if probed, stopped = c.waitRetry(ctx, wait); stopped {
				return sentStopped, refusal{}
			}
		}
		if retry {
			c.retries.Add(1)
			c.m.retries.Inc()
		}
		if ctx.Err() != nil {
			return sentStopped, refusal{}
		}
		res, ref, err := c.send(ctx, *b)
		if err == nil {
			c.recovered(probed)
			return res, ref
		}
		if ctx.Err() != nil {
			return sentStopped, refusal{}
		}
		c.failed(err)
		*b = l.prune(*b)
	}
}

// recovered records a write InfluxDB answered (accepted or refused);
// probed says a readiness probe ended the backoff before it.
func (c *client) recovered(probed bool) {
	c.setHealthy(true)
	c.mu.Lock()
	was, attempts, since := c.isFailing, c.attempts, c.failingSince
	c.isFailing, c.attempts, c.unreachable = false, 0, false
	c.mu.Unlock()
	if !was {
		return
	}
	c.resumed()
	c.m.failing.Set(0)
	resumedBy := "retry"
	if probed {
		resumedBy = "probe"
		c.probeResumes.Add(1)
		c.m.probeResumes.Inc()
	}
	c.log.Info("InfluxDB is back; writing the held batches, gateways are acknowledged again",
		"url", c.cfg.URL, "outage", time.Since(since).Round(time.Millisecond),
		"failed_attempts", attempts, "resumed_by", resumedBy, "held_batches", c.held())
}

// failed records a write that failed and sets the next try's time.
func (c *client) failed(err *writeError) {
	c.setHealthy(false)
	c.mu.Lock()
	c.attempts++
	// Doubling per failed attempt, with jitter over its upper half so that
	// ingest instances do not retry in step.
	d := backoff.Policy{Base: c.cfg.RetryBase, Max: c.cfg.RetryMax, Jitter: backoff.Equal}.Wait(c.attempts - 1)
	if err.retryAfter > d {
		d = min(err.retryAfter, c.cfg.RetryMax)
	}
	c.retryAt = time.Now().Add(d)
	was, attempts := c.isFailing, c.attempts
	if !was {
		c.failingSince = time.Now()
	}
	c.isFailing = true
	unr := unreachable(err)
	c.unreachable = unr
	c.mu.Unlock()
	c.m.failing.Set(1)
	held := c.held()
	switch {
	case was:
		// One line per outage, not per retry.
		c.log.Debug("influxdb write failed again", "url", c.cfg.URL, "status", err.status,
			"error", err.err, "attempt", attempts, "retry_in", d)
	case err.status >= 400 && err.status < 500 && err.status != 429:
		// 401, 403, 404: the URL, token or bucket is wrong, not the points.
		c.log.Error("InfluxDB refuses ingest's writes (check url, token and bucket); holding the batches, gateways are not acknowledged until it accepts",
			"url", c.cfg.URL, "status", err.status, "error", err.err, "held_batches", held, "retry_in", d)
	case unr:
		c.log.Info(fmt.Sprintf("InfluxDB unreachable; holding %d batches, gateways are not acknowledged until it is back", held),
			"url", c.cfg.URL, "error", err.err, "held_batches", held, "probe_interval", c.cfg.ProbeInterval)
	default:
		c.log.Warn(fmt.Sprintf("InfluxDB is failing writes; holding %d batches, gateways are not acknowledged until it accepts them", held),
			"url", c.cfg.URL, "status", err.status, "error", err.err, "held_batches", held, "retry_in", d)
	}
}

// unreachable reports whether err says InfluxDB could not be reached at
// all (connection refused or reset, timeout, DNS), as opposed to InfluxDB
// answering with an error. Only then does a successful ping mean a write
// may now succeed.
func unreachable(err *writeError) bool { return err.status == 0 }

// unreachableNow reports whether the last failed write found InfluxDB
// unreachable.
func (c *client) unreachableNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unreachable
}

// waitRetry waits for the backoff d before the next try. While the last
// failure found InfluxDB unreachable it pings /ping every ProbeInterval
// and ends the wait early, with probed true, once InfluxDB answers. A
// server that answers but refuses writes (5xx, 401, 404, 429) is never
// probed: its backoff runs in full, so a ping that succeeds while writes
// fail cannot turn into a hot loop. stopped reports that ctx ended.
func (c *client) waitRetry(ctx context.Context, d time.Duration) (probed, stopped bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	var tick <-chan time.Time
	if c.cfg.ProbeInterval > 0 && c.unreachableNow() {
		pt := time.NewTicker(c.cfg.ProbeInterval)
		defer pt.Stop()
		tick = pt.C
	}
	for {
		select {
		case <-t.C:
			return false, false
		case <-ctx.Done():
			return false, true
		case <-tick:
			if c.probe(ctx) {
				return true, false
			}
		}
	}
}

// probe pings InfluxDB once, bounded by the probe interval (at least a
// second, at most Timeout), and reports whether it answered.
func (c *client) probe(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, min(c.cfg.Timeout, max(c.cfg.ProbeInterval, time.Second)))
	defer cancel()
	c.probes.Add(1)
	ok, err := c.lib.Ping(ctx)
	return ok && err == nil
}
