package intake

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/internal/throttle"
	"github.com/ponte-city/ponte/wire"
)

// ContentType is the media type of an encoded wire.Batch.
const ContentType = "application/vnd.ponte.batch"

// HTTPConfig configures the HTTP intake.
type HTTPConfig struct {
	// Tokens maps gateway ID to its bearer token; a gateway not listed
	// cannot use HTTP.
	Tokens map[string]string
	// Ready reports whether the sink takes writes; while false, requests
	// get 503 at once (default: always ready).
	Ready func() bool
	// Timeout bounds how long a request waits for its batch to be
	// written before answering 503 (default 30s).
	Timeout time.Duration
	// RetryAfter is the Retry-After of 503 answers (default 5s).
	RetryAfter time.Duration
	// Guard throttles token guessing per source address (nil: none);
	// its listener label is ListenerHTTP by convention.
	Guard *throttle.Guard
	// GatewayGuard throttles it per gateway ID, from all addresses
	// together (nil: none); give it a larger burst than Guard, so that one
	// address cannot lock a gateway out.
	GatewayGuard *throttle.Guard
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// ListenerHTTP is the HTTP intake's listener label in
// ponte_ingest_auth_failures_total.
const ListenerHTTP = "http_intake"

// Reasons of ponte_ingest_auth_failures_total for the HTTP intake.
const (
	AuthMissing = "missing_credentials"
	AuthBad     = "bad_credentials"
)

// HTTP is the HTTP intake handler. It is safe for concurrent use.
type HTTP struct {
	cfg HTTPConfig
	svc Submitter
	// tokens are the SHA-256 of each gateway's token; unknown is that of
	// a random token no gateway has, compared instead for an unknown
	// gateway so that both cost the same.
	tokens  map[string][sha256.Size]byte
	unknown [sha256.Size]byte
}

// NewHTTP returns the handler of POST /v1/gateways/{id}/batches.
func NewHTTP(cfg HTTPConfig, svc Submitter) *HTTP {
	if cfg.Ready == nil {
		cfg.Ready = func() bool { return true }
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &HTTP{cfg: cfg, svc: svc, tokens: map[string][sha256.Size]byte{}}
	for gw, tok := range cfg.Tokens {
		h.tokens[gw] = sha256.Sum256([]byte(tok))
	}
	h.unknown = sha256.Sum256([]byte(rand.Text()))
	return h
}

// Register adds the intake's route to mux.
func (h *HTTP) Register(mux *http.ServeMux) {
	mux.Handle("/v1/gateways/{id}/batches", h)
}

type problem struct {
	Error  string `json:"error"`
	Reason string `json:"reason,omitempty"`
}

func (h *HTTP) fail(w http.ResponseWriter, code int, reason, msg string) {
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(int(h.cfg.RetryAfter.Seconds()+0.5)))
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ponte-ingest"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(problem{Error: msg, Reason: reason})
}

// ServeHTTP implements http.Handler.
func (h *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, http.StatusMethodNotAllowed, "method", "only POST is allowed here")
		return
	}
	gw := r.PathValue("id")
	if !h.authenticate(w, r, gw) {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != ContentType && mt != "application/octet-stream") {
			h.fail(w, http.StatusUnsupportedMediaType, "content_type", "expected Content-Type "+ContentType)
			return
		}
	}
	if !h.cfg.Ready() {
		h.fail(w, http.StatusServiceUnavailable, "sink_down", "the time-series store is not accepting writes; retry later")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wire.MaxBatchBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.fail(w, http.StatusRequestEntityTooLarge, service.ReasonTooLarge, "a batch may have at most "+strconv.Itoa(wire.MaxBatchBytes)+" bytes")
			return
		}
		h.fail(w, http.StatusBadRequest, "read", "reading the body: "+err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	done := make(chan service.Result, 1)
	j := service.Job{Transport: "http", Topic: r.URL.Path, Gateway: gw, Payload: body,
		Done: func(res service.Result) { done <- res }}
	if err := h.svc.Submit(ctx, j); err != nil {
		h.fail(w, http.StatusServiceUnavailable, "busy", "ingest is not taking batches now: "+err.Error())
		return
	}
	var res service.Result
	select {
	case res = <-done:
	case <-ctx.Done():
		h.fail(w, http.StatusServiceUnavailable, "timeout", "the batch was not written in time; send it again")
		return
	}
	var inv *service.InvalidError
	switch {
	case errors.As(res.Err, &inv):
		h.fail(w, http.StatusBadRequest, inv.Reason, inv.Error())
	case res.Err != nil:
		h.fail(w, http.StatusServiceUnavailable, "not_written", res.Err.Error())
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Write(wire.EncodeAck(res.Ack))
	}
}

// throttled answers 429 to an attempt refused unchecked.
func (h *HTTP) throttled(w http.ResponseWriter, wait time.Duration, who string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
	h.fail(w, http.StatusTooManyRequests, throttle.ReasonThrottled, "too many failed authentications from "+who+"; retry later")
}

// authenticate checks gw's bearer token, answering the refusal itself.
// An address that spent its budget of failures gets 429 before the token
// is looked at. An unknown gateway and a wrong token get the same status
// and body, after comparing the same number of bytes, so that the answer
// does not tell which gateways exist.
func (h *HTTP) authenticate(w http.ResponseWriter, r *http.Request, gw string) bool {
	var attempt, gwAttempt throttle.Attempt
	if h.cfg.Guard != nil {
		a, ok, wait := h.cfg.Guard.Begin(throttle.Key(r.RemoteAddr), r.RemoteAddr)
		if !ok {
			h.throttled(w, wait, "this address")
			return false
		}
		attempt = a
	}
	if h.cfg.GatewayGuard != nil {
		a, ok, wait := h.cfg.GatewayGuard.Begin("gateway "+gw, r.RemoteAddr)
		if !ok {
			h.throttled(w, wait, "this gateway ID")
			return false
		}
		gwAttempt = a
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		attempt.Refund(AuthMissing)
		h.fail(w, http.StatusUnauthorized, "unauthenticated", "expected Authorization: Bearer <gateway token>")
		return false
	}
	want, known := h.tokens[gw]
	if !known {
		want = h.unknown
	}
	got := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !known {
		attempt.Failed(AuthBad)
		gwAttempt.Failed("") // counted once, by the address's attempt
		h.cfg.Logger.Warn("HTTP intake: bad credentials", "gateway", gw, "known_gateway", known, "remote", r.RemoteAddr)
		h.fail(w, http.StatusForbidden, "forbidden", "the token is not valid for gateway "+strconv.Quote(gw))
		return false
	}
	attempt.Succeeded()
	return true
}
