package subs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ponte-city/ponte/internal/backoff"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// startLocked starts s's delivery goroutine if Run is running.
func (m *Manager) startLocked(s *sub) {
	if m.ctx == nil {
		return
	}
	m.workers.Add(1)
	go func() {
		defer m.workers.Done()
		m.deliverLoop(m.ctx, s)
	}()
}

// deliverLoop sends s's queued notifications in order, one at a time,
// until ctx ends or s is deleted.
func (m *Manager) deliverLoop(ctx context.Context, s *sub) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-s.wake:
		}
		for {
			m.mu.Lock()
			if len(s.queue) == 0 {
				s.overflowing = false
				m.mu.Unlock()
				break
			}
			n := m.popLocked(s)
			expired := s.statusOf(m.cfg.Now()) == "expired"
			ep, ldjson, id := s.def.Notification.Endpoint, s.c.ldjson, s.def.ID
			m.mu.Unlock()
			if expired {
				m.met.dropped.WithLabelValues(dropExpired).Inc()
				continue
			}
			if !m.deliver(ctx, s, id, ep.URI, ldjson, n) {
				return
			}
		}
	}
}

// notificationBody is a Notification (clause 5.3.1).
type notificationBody struct {
	Context        any             `json:"@context,omitempty"`
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	SubscriptionID string          `json:"subscriptionId"`
	NotifiedAt     string          `json:"notifiedAt"`
	Data           json.RawMessage `json:"data"`
}

// deliver POSTs n to uri, retrying with backoff up to MaxAttempts. It
// returns false when ctx ended or s was deleted meanwhile.
func (m *Manager) deliver(ctx context.Context, s *sub, subID, uri string, ldjson bool, n notification) bool {
	policy := backoff.Policy{Base: m.cfg.RetryBase, Max: m.cfg.RetryMax, Jitter: backoff.Equal}
	for attempt := 0; ; attempt++ {
		retryAfter, err := m.post(ctx, subID, uri, ldjson, n)
		now := m.cfg.Now().UTC()
		m.mu.Lock()
		s.st.timesSent++
		s.st.lastNotification = now
		if err == nil {
			s.st.lastSuccess, s.st.consecutiveErrors = now, 0
		} else {
			s.st.lastFailure, s.st.lastErrorReason = now, err.Error()
			s.st.timesFailed++
			s.st.consecutiveErrors++
		}
		m.mu.Unlock()
		if err == nil {
			m.met.sent.Inc()
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		var de *deliveryError
		reason := failTransport
		if errors.As(err, &de) {
			reason = de.reason
		}
		m.met.failed.WithLabelValues(reason).Inc()
		if reason == failRefused { // no retry makes it allowed
			m.met.dropped.WithLabelValues(dropRefused).Inc()
			m.cfg.Logger.Warn("ngsi-ld notification refused", "subscription", subID, "err", err)
			return true
		}
		if attempt+1 >= m.cfg.MaxAttempts {
			m.met.dropped.WithLabelValues(dropAttempts).Inc()
			m.cfg.Logger.Warn("ngsi-ld notification given up", "subscription", subID, "attempts", attempt+1, "err", err)
			return true
		}
		m.cfg.Logger.Debug("ngsi-ld notification failed; retrying", "subscription", subID, "attempt", attempt+1, "err", err)
		wait := policy.Wait(attempt)
		if retryAfter >= 0 {
			wait = min(retryAfter, m.cfg.RetryMax)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-s.done:
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// deliveryError is a failed attempt and its metric reason.
type deliveryError struct {
	reason string
	err    error
}

func (e *deliveryError) Error() string { return e.err.Error() }
func (e *deliveryError) Unwrap() error { return e.err }

// post makes one attempt; retryAfter is what a 429 or 503 asked for, -1
// when nothing was.
func (m *Manager) post(ctx context.Context, subID, uri string, ldjson bool, n notification) (retryAfter time.Duration, err error) {
	retryAfter = -1
	now := m.cfg.Now().UTC()
	body := notificationBody{ID: "urn:ngsi-ld:Notification:" + newID()[len("urn:ngsi-ld:Subscription:"):],
		Type: "Notification", SubscriptionID: subID, NotifiedAt: now.Format("2006-01-02T15:04:05.000Z"), Data: n.data}
	if ldjson {
		body.Context = m.cfg.ContextURL
	}
	b, err := json.Marshal(body)
	if err != nil {
		return -1, &deliveryError{failTransport, fmt.Errorf("encode notification: %w", err)}
	}
	if u, err := url.Parse(uri); err != nil || !m.allowedURL(u) {
		return -1, &deliveryError{failRefused, fmt.Errorf("POST %s: %w", redact(uri), errNotAllowed)}
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.DeliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, bytes.NewReader(b))
	if err != nil {
		return -1, &deliveryError{failTransport, err}
	}
	if ldjson {
		req.Header.Set("Content-Type", mediaJSONLD)
	} else {
		req.Header.Set("Content-Type", mediaJSON)
		req.Header.Set("Link", ngsild.LinkHeader(m.cfg.ContextURL))
	}
	resp, err := m.client.Do(req)
	if err != nil {
		reason := failTransport
		if errors.Is(err, errInternalAddress) || errors.Is(err, errNotAllowed) {
			reason = failRefused
		}
		return -1, &deliveryError{reason, fmt.Errorf("POST %s: %w", redact(uri), err)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return -1, nil
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	return retryAfter, &deliveryError{failStatus, fmt.Errorf("POST %s: answered %s", redact(uri), resp.Status)}
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date (a past
// date is 0); -1 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return -1
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// redact is uri without its query (which may hold a token).
func redact(uri string) string {
	for i := range len(uri) {
		if uri[i] == '?' {
			return uri[:i] + "?..."
		}
	}
	return uri
}
