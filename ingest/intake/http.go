package intake

import (
	"context"
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
	"github.com/ponte-city/ponte/ingest/wire"
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
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// HTTP is the HTTP intake handler. It is safe for concurrent use.
type HTTP struct {
	cfg HTTPConfig
	svc Submitter
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
	return &HTTP{cfg: cfg, svc: svc}
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
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	want, known := h.cfg.Tokens[gw]
	switch {
	case !ok || token == "":
		h.fail(w, http.StatusUnauthorized, "unauthenticated", "expected Authorization: Bearer <gateway token>")
		return
	case !known:
		h.fail(w, http.StatusUnauthorized, "unknown_gateway", "gateway "+strconv.Quote(gw)+" has no HTTP token configured")
		return
	case subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1:
		h.cfg.Logger.Warn("HTTP intake: wrong token", "gateway", gw, "remote", r.RemoteAddr)
		h.fail(w, http.StatusForbidden, "forbidden", "the token is not gateway "+strconv.Quote(gw)+"'s")
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
