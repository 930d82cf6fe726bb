package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's Prometheus metrics.
type metrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rateLimited prometheus.Counter
	streams     prometheus.Gauge
	refused     prometheus.Counter
	events      *prometheus.CounterVec
	// The events counter of each event type, resolved once.
	entityEvents, removedEvents, indicatorEvents, resyncEvents prometheus.Counter
	dropped                                                    prometheus.Counter
}

// newMetrics makes the metrics and registers them on reg (if not nil).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_twin_api_requests_total",
			Help: "HTTP requests to the twin API by endpoint class and status code.",
		}, []string{"class", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ponte_twin_api_request_duration_seconds",
			Help:    "Time to answer a twin API request (streams: their whole life).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"class"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_twin_api_rate_limited_total",
			Help: "Public requests refused with 429.",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_twin_api_streams",
			Help: "SSE streams open now.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_twin_api_streams_refused_total",
			Help: "SSE streams refused with 503 because MaxStreams were open.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_twin_api_stream_events_total",
			Help: "Events sent on SSE streams by event type.",
		}, []string{"event"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_twin_api_streams_dropped_total",
			Help: "SSE streams ended because the twin dropped a subscriber that did not keep up.",
		}),
	}
	m.entityEvents = m.events.WithLabelValues("entity")
	m.removedEvents = m.events.WithLabelValues("removed")
	m.indicatorEvents = m.events.WithLabelValues("indicators")
	m.resyncEvents = m.events.WithLabelValues("resync")
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration, m.rateLimited, m.streams, m.refused, m.events, m.dropped} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// statusWriter records the status code; it passes Flush and the
// ResponseController's methods through Unwrap.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush flushes the underlying writer.
func (s *statusWriter) Flush() {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// instrument counts requests of a class and times them.
func (a *API) instrument(class string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w.Header().Set("X-Content-Type-Options", "nosniff")
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		a.metrics.requests.WithLabelValues(class, strconv.Itoa(code)).Inc()
		a.metrics.duration.WithLabelValues(class).Observe(time.Since(start).Seconds())
	})
}
