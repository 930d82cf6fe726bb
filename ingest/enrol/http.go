package enrol

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-city/ponte/internal/throttle"
	"github.com/ponte-city/ponte/wire"
)

// Routes (on ingest's public listener):
//
//	POST wire.EnrolPath                            enrolment token: enrol a gateway
//	POST /api/v1/enrolment/tokens                  operator: issue a token
//	GET  /api/v1/enrolment/tokens                  operator: list tokens
//	POST /api/v1/enrolment/tokens/{id}/revoke      operator: revoke an unused token
//	GET  /api/v1/enrolment/gateways                operator: list enrolled gateways
//	POST /api/v1/enrolment/gateways/{id}/revoke    operator: revoke a gateway

// TokenRequest is the body of POST /api/v1/enrolment/tokens.
type TokenRequest struct {
	Gateway string `json:"gateway,omitempty"`
	Prefix  string `json:"prefix,omitempty"`
	// Tenant puts the gateway in a tenant; an operator of one tenant may
	// leave it out (the token is for that tenant) and may name no other.
	Tenant string `json:"tenant,omitempty"`
	// TTL is how long the token is valid ("24h"; empty: DefaultTokenTTL).
	TTL string `json:"ttl,omitempty"`
}

// TokenResponse is the answer: the token, shown once, and its listing.
type TokenResponse struct {
	// Secret is the token itself, to hand to the technician.
	Secret string `json:"token"`
	Token
}

// HTTPConfig configures the routes.
type HTTPConfig struct {
	Registry *Registry
	// Operator wraps the operator routes: it answers 401 (or 429) unless
	// the request carries an operator's token.
	Operator func(http.Handler) http.Handler
	// Caller, if set, says which tenants the operator of a request acts
	// for: all of them, or some (an operator token of a tenant). Nil: all.
	Caller func(r *http.Request) (tenants []string, all bool)
	// GatewayTenant, if set, is the tenant a gateway belongs to (by
	// ingest's configuration or its enrolment); an operator of some
	// tenants lists and revokes only their gateways and tokens.
	GatewayTenant func(id string) string
	// Guard throttles failed enrolments per address (nil: none).
	Guard  *throttle.Guard
	Logger *slog.Logger
}

// Register adds the routes to mux.
func Register(mux *http.ServeMux, cfg HTTPConfig) {
	h := &handler{cfg: cfg, log: cfg.Logger}
	if h.log == nil {
		h.log = slog.Default()
	}
	mux.HandleFunc("POST "+wire.EnrolPath, h.enrol)
	op := cfg.Operator
	mux.Handle("POST /api/v1/enrolment/tokens", op(http.HandlerFunc(h.issue)))
	mux.Handle("GET /api/v1/enrolment/tokens", op(http.HandlerFunc(h.tokens)))
	mux.Handle("POST /api/v1/enrolment/tokens/{id}/revoke", op(http.HandlerFunc(h.revokeToken)))
	mux.Handle("GET /api/v1/enrolment/gateways", op(http.HandlerFunc(h.gateways)))
	mux.Handle("POST /api/v1/enrolment/gateways/{id}/revoke", op(http.HandlerFunc(h.revoke)))
}

type handler struct {
	cfg HTTPConfig
	log *slog.Logger
}

// Listener and reason of ponte_ingest_auth_failures_total for enrolments.
const (
	ListenerEnrol = "enrolment"
	AuthBadToken  = "bad_enrolment_token"
)

func (h *handler) enrol(w http.ResponseWriter, r *http.Request) {
	var attempt throttle.Attempt
	if g := h.cfg.Guard; g != nil {
		a, ok, wait := g.Begin(throttle.Key(r.RemoteAddr), r.RemoteAddr)
		if !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			reply(w, http.StatusTooManyRequests, map[string]string{"error": "too many failed enrolments from this address; retry later"})
			return
		}
		attempt = a
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		attempt.Refund("")
		w.Header().Set("WWW-Authenticate", `Bearer realm="ponte-enrolment"`)
		reply(w, http.StatusUnauthorized, map[string]string{"error": "an enrolment token is required: Authorization: Bearer <token>"})
		return
	}
	var req wire.EnrolRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, wire.MaxEnrolBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		attempt.Refund("")
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			reply(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("enrolment request over %d bytes", wire.MaxEnrolBytes)})
			return
		}
		reply(w, http.StatusBadRequest, map[string]string{"error": "enrolment request: " + err.Error() + " (expected JSON with file, site and optionally csr)"})
		return
	}
	resp, err := h.cfg.Registry.Enrol(Enrolment{Token: strings.TrimSpace(tok), Request: req, Remote: r.RemoteAddr})
	var e *Error
	switch {
	case errors.As(err, &e):
		if e.Status == http.StatusUnauthorized {
			attempt.Failed(AuthBadToken)
			w.Header().Set("WWW-Authenticate", `Bearer realm="ponte-enrolment"`)
		} else {
			attempt.Refund("")
		}
		h.log.Warn("enrolment refused", "remote", r.RemoteAddr, "status", e.Status, "reason", e.Msg)
		reply(w, e.Status, map[string]string{"error": e.Msg})
		return
	case err != nil:
		attempt.Refund("")
		h.log.Error("enrolment failed", "remote", r.RemoteAddr, "err", err)
		reply(w, http.StatusInternalServerError, map[string]string{"error": "enrolment not recorded: " + err.Error()})
		return
	}
	attempt.Succeeded()
	status := http.StatusCreated
	if resp.Rotated {
		status = http.StatusOK
	}
	w.Header().Set("Cache-Control", "no-store")
	reply(w, status, resp)
}

func (h *handler) issue(w http.ResponseWriter, r *http.Request) {
	var req TokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		reply(w, http.StatusBadRequest, map[string]string{"error": "token request: " + err.Error() + ` (expected {"gateway": "ID"} or {"prefix": "fi-"}, and optionally "ttl": "24h")`})
		return
	}
	var ttl time.Duration
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil {
			reply(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("ttl %q: expected a duration such as 24h", req.TTL)})
			return
		}
		ttl = d
	}
	tenants, all := h.caller(r)
	if !all {
		switch {
		case req.Tenant == "" && len(tenants) == 1:
			req.Tenant = tenants[0]
		case req.Tenant == "":
			reply(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("tenant: your token acts for tenants %s: name one", strings.Join(tenants, ", "))})
			return
		case !slices.Contains(tenants, req.Tenant):
			reply(w, http.StatusForbidden, map[string]string{"error": fmt.Sprintf("tenant %q: your token acts for %s only", req.Tenant, strings.Join(tenants, ", "))})
			return
		}
	}
	byTenant := ""
	if !all {
		byTenant = req.Tenant
	}
	tok, t, err := h.cfg.Registry.IssueTokenFor(Scope{Gateway: req.Gateway, Prefix: req.Prefix, Tenant: req.Tenant}, ttl, "operator at "+r.RemoteAddr, byTenant)
	var e *Error
	if !all && errors.As(err, &e) && e.Status == http.StatusConflict {
		// Which other tenant has those gateways is not the caller's to
		// learn: the log has it.
		h.log.Warn("enrolment token refused", "tenant", req.Tenant, "gateway", req.Gateway, "prefix", req.Prefix, "reason", e.Msg)
		reply(w, http.StatusConflict, map[string]string{"error": fmt.Sprintf("%s is not available to tenant %s", Scope{Gateway: req.Gateway, Prefix: req.Prefix}, req.Tenant)})
		return
	}
	if h.fail(w, err) {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	reply(w, http.StatusCreated, TokenResponse{Secret: tok, Token: t})
}

func (h *handler) tokens(w http.ResponseWriter, r *http.Request) {
	toks := h.cfg.Registry.Tokens()
	if tenants, all := h.caller(r); !all {
		toks = slices.DeleteFunc(toks, func(t Token) bool { return !slices.Contains(tenants, t.Scope.Tenant) })
	}
	reply(w, http.StatusOK, map[string]any{"tokens": toks})
}

func (h *handler) gateways(w http.ResponseWriter, r *http.Request) {
	gws := h.cfg.Registry.Gateways()
	gws = slices.DeleteFunc(gws, func(g Gateway) bool { return !h.sees(r, g.ID) })
	reply(w, http.StatusOK, map[string]any{"gateways": gws})
}

// caller returns the tenants the operator of r acts for, or all.
func (h *handler) caller(r *http.Request) ([]string, bool) {
	if h.cfg.Caller == nil {
		return nil, true
	}
	return h.cfg.Caller(r)
}

// sees says whether the operator of r may see and revoke gateway id.
func (h *handler) sees(r *http.Request, id string) bool {
	tenants, all := h.caller(r)
	if all {
		return true
	}
	tn := ""
	if h.cfg.GatewayTenant != nil {
		tn = h.cfg.GatewayTenant(id)
	}
	return tn != "" && slices.Contains(tenants, tn)
}

func (h *handler) revoke(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !h.sees(r, id) {
		reply(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("gateway %q is not enrolled", id)})
		return
	}
	if h.fail(w, h.cfg.Registry.Revoke(id, "operator at "+r.RemoteAddr)) {
		return
	}
	reply(w, http.StatusOK, map[string]any{"gateway": id, "revoked": true})
}

// fail answers err, if any, and says whether it did.
func (h *handler) fail(w http.ResponseWriter, err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		reply(w, e.Status, map[string]string{"error": e.Msg})
		return true
	}
	h.log.Error("enrolment registry", "err", err)
	reply(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	return true
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(v)
	_, _ = w.Write(append(b, '\n'))
}
