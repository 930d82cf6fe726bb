package api

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ponte-city/ponte/internal/throttle"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// API serves the twin's HTTP API. Create it with New; it is safe for
// concurrent use.
type API struct {
	cfg      Config
	reader   twin.Reader
	tokens   []scopedToken
	tenants  map[string]*Tenant // by ID
	tenant   *Tenant            // the tenant whose public API this is (tenant_public.go)
	limiter  *limiter
	guard    *throttle.Guard
	metrics  *metrics
	streams  atomic.Int64
	perScope scopeCounter // streams open per scope (shares.go)
	cache    *frameCache
	tiles    tileCache // the sites' vector tiles (tiles.go)
	tickets  tickets

	areas areaShapes
	sites siteShapes
	gzips gzipCache
	hist  *historyCache

	indMu      sync.Mutex
	indAt      time.Time // when indBody was taken
	indBody    []byte    // the Indicators as JSON
	indValues  []byte    // indBody without what never changes (indicatorValues)
	indVersion uint64    // counts changes of indBody
}

// New checks cfg and returns an API.
func New(cfg Config) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("twin api: register metrics: %w", err)
	}
	guard, err := throttle.New(throttle.Config{Listener: ListenerOperator, Burst: cfg.AuthBurst, Refill: cfg.AuthRefill,
		MaxKeys: cfg.MaxClients, Logger: cfg.Logger, Registerer: cfg.Registerer, Now: cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("twin api: %w", err)
	}
	a := &API{
		guard:   guard,
		cfg:     cfg,
		reader:  cfg.Reader,
		limiter: newLimiter(cfg.PublicRate, cfg.PublicBurst, cfg.MaxClients),
		metrics: m,
		cache:   newFrameCache(12),
		hist:    newHistoryCache(),
	}
	a.tickets.total, a.tickets.perScope = ticketLimits(len(cfg.Tenants))
	for _, t := range cfg.Tokens {
		a.tokens = append(a.tokens, scopedToken{[]byte(t), twin.AllScope()})
	}
	a.tenants = map[string]*Tenant{}
	for i := range cfg.Tenants {
		tn := &a.cfg.Tenants[i]
		a.tenants[tn.ID] = tn
		for _, t := range tn.Tokens {
			a.tokens = append(a.tokens, scopedToken{[]byte(t), tn.Scope})
		}
	}
	return a, nil
}

// routes are the API's routes as "METHOD /path" patterns; the OpenAPI
// document describes exactly these.
func routes() []string {
	return []string{
		"GET /api/v1/entities",
		"GET /api/v1/entities/{id}",
		"GET /api/v1/gateways",
		"GET /api/v1/tiles/sites.json",
		"GET /api/v1/tiles/sites/{z}/{x}/{y}",
		"GET /api/v1/stream",
		"POST /api/v1/stream/ticket",
		"GET /api/v1/snapshot",
		"GET /api/v1/indicators",
		"GET /api/v1/indicators.csv",
		"GET /api/v1/indicators/history",
		"GET /api/v1/areas.geojson",
		"GET /api/v1/sites.geojson",
		"GET /api/v1/config",
		"GET /api/v1/history",
		"GET /api/v1/openapi.json",
		"GET /api/v1/alarms",
		"GET /api/v1/alarms/stream",
		"GET /api/v1/alarms/{id}",
		"POST /api/v1/alarms/{id}/ack",
		"GET /api/v1/commands",
		"POST /api/v1/commands",
		"GET /api/v1/commands/points",
		"GET /api/v1/commands/audit",
		"GET /api/v1/commands/{id}",
		"POST /api/v1/commands/{id}/approve",
		"POST /api/v1/commands/{id}/reject",
		"GET /ngsi-ld/v1/entities",
		"GET /ngsi-ld/v1/entities/{id}",
		"GET /ngsi-ld/v1/types",
		"GET /ngsi-ld/v1/types/{type}",
		"GET /ngsi-ld/v1/temporal/entities",
		"GET /ngsi-ld/v1/temporal/entities/{id}",
		"POST " + subscriptionsPath,
		"GET " + subscriptionsPath,
		"GET " + subscriptionsPath + "/{id}",
		"PATCH " + subscriptionsPath + "/{id}",
		"DELETE " + subscriptionsPath + "/{id}",
		"GET " + ngsild.ContextPath,
	}
}

// Handler returns the handler of every /api/v1/ endpoint. Mount it at the
// server's root (it matches the full paths).
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	handlers := map[string]http.Handler{
		"GET /api/v1/entities":                a.operator(a.handleEntities),
		"GET /api/v1/entities/{id}":           a.operator(a.handleEntity),
		"GET /api/v1/gateways":                a.operator(a.handleGateways),
		"GET /api/v1/tiles/sites.json":        a.operator(a.handleSiteTilesInfo),
		"GET /api/v1/tiles/sites/{z}/{x}/{y}": a.operator(a.handleSiteTile),
		"GET /api/v1/stream":                  a.streamAuth(a.handleStream),
		"POST /api/v1/stream/ticket":          a.operator(a.handleTicket),
		"GET /api/v1/snapshot":                a.operator(a.handleSnapshot),
		"GET /api/v1/indicators":              a.public(a.handleIndicators),
		"GET /api/v1/indicators.csv":          a.public(a.handleIndicatorsCSV),
		"GET /api/v1/areas.geojson":           a.public(a.handleAreas),
		"GET /api/v1/sites.geojson":           a.public(a.handleSites),
		"GET /api/v1/config":                  a.public(a.handleConfig),
		"GET /api/v1/indicators/history":      a.public(a.handleIndicatorHistory),
		"GET /api/v1/history":                 a.operator(a.handleHistory),
		"GET /api/v1/openapi.json":            a.instrument("openapi", http.HandlerFunc(handleOpenAPI)),
	}
	for r, h := range a.ngsiHandlers() {
		handlers[r] = h
	}
	for _, r := range routes() {
		switch {
		case r == "GET /api/v1/alarms/stream":
			// An EventSource, like the twin's stream: a ticket, not a token,
			// in its URL.
			handlers[r] = a.streamAuth(a.handleAlarms)
		case strings.Contains(r, "/api/v1/alarms"):
			handlers[r] = a.operator(a.handleAlarms)
		case strings.Contains(r, subscriptionsPath):
			handlers[r] = a.operator(a.handleSubscriptions)
		case strings.Contains(r, commandsPath):
			handlers[r] = a.operator(a.handleCommands)
		}
	}
	for _, r := range routes() {
		mux.Handle(r, handlers[r])
	}
	preflight := a.instrument("preflight", http.HandlerFunc(a.handlePreflight))
	mux.Handle("OPTIONS /api/v1/indicators", preflight)
	mux.Handle("OPTIONS /api/v1/indicators.csv", preflight)
	mux.Handle("OPTIONS /api/v1/areas.geojson", preflight)
	mux.Handle("OPTIONS /api/v1/sites.geojson", preflight)
	mux.Handle("OPTIONS /api/v1/config", preflight)
	mux.Handle("OPTIONS /api/v1/indicators/history", preflight)
	mux.Handle(ngsiPrefix+"/", a.instrument("unknown", http.HandlerFunc(handleNGSIUnknown)))
	mux.Handle("/api/v1/", a.instrument("unknown", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := r.Clone(r.Context())
		g.Method = http.MethodGet
		if _, pattern := mux.Handler(g); pattern != "/api/v1/" {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "", r.Method+" "+r.URL.Path+" is not allowed; use GET")
			return
		}
		writeError(w, http.StatusNotFound, "", "no such endpoint: "+r.Method+" "+r.URL.Path+" (see /api/v1/openapi.json)")
	})))
	return mux
}

// handleAlarms passes the alarms' routes to Config.Alarms.
func (a *API) handleAlarms(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Alarms == nil {
		writeError(w, http.StatusServiceUnavailable, "", "alarms are not configured on this server")
		return
	}
	a.cfg.Alarms.ServeHTTP(w, r)
}

// Listener and reasons of ponte_ingest_auth_failures_total for the
// operator endpoints.
const (
	ListenerOperator = "operator_api"
	AuthMissing      = "missing_credentials"
	AuthBad          = "bad_credentials"
)

// operator wraps an operator endpoint: throttling of token guessing,
// token check and metrics. An address that spent its budget of failed
// attempts gets 429 before its token is looked at.
func (a *API) operator(h http.HandlerFunc) http.Handler {
	return a.instrument("operator", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempt, ok, wait := a.guard.Begin(a.clientIP(r), r.RemoteAddr)
		if !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			writeError(w, http.StatusTooManyRequests, "Authorization", "too many failed authentications from this address; retry later")
			return
		}
		tok, given := operatorToken(r)
		scope, valid := a.tokenScope(tok)
		if !given {
			attempt.Refund(AuthMissing)
		} else if !valid {
			attempt.Failed(AuthBad)
			a.cfg.Logger.Warn("operator API: wrong token", "remote", r.RemoteAddr, "path", r.URL.Path)
			given = false
		}
		if !given {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ponte"`)
			writeError(w, http.StatusUnauthorized, "Authorization", "an operator token is required: Authorization: Bearer <token> (a token in the URL is refused; the stream takes a ticket from POST /api/v1/stream/ticket)")
			return
		}
		attempt.Succeeded()
		h(w, withOperator(withScope(r, scope), tok))
	}))
}

// operatorToken returns the token r carries (Authorization: Bearer), and
// whether it carries one; a malformed Authorization header carries an
// empty one, and so does a token query parameter: tokens in URLs end up
// in access logs, so one is refused (and counted as a failed attempt)
// rather than ignored.
func operatorToken(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", true
		}
		tok := strings.TrimSpace(rest)
		return tok, tok != ""
	}
	if r.URL.Query().Has("token") {
		return "", true
	}
	return "", false
}

// tokenScope returns the scope of tok and whether it is one of the
// operator tokens, comparing it with every one of them.
func (a *API) tokenScope(tok string) (twin.Scope, bool) {
	if tok == "" {
		return twin.Scope{}, false
	}
	found, scope := 0, twin.Scope{}
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(t.token, []byte(tok)) == 1 {
			found, scope = 1, t.scope
		}
	}
	return scope, found == 1
}

// scopedToken is an operator token and what it sees.
type scopedToken struct {
	token []byte
	scope twin.Scope
}

// public wraps a public endpoint: CORS, the licence link, rate limit per
// client IP, metrics.
func (a *API) public(h http.HandlerFunc) http.Handler {
	return a.instrument("public", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setCORS(w.Header())
		if l := a.licenceLink(); l != "" {
			w.Header().Set("Link", l)
		}
		if ok, wait := a.limiter.allow(a.clientIP(r), a.cfg.Now()); !ok {
			a.metrics.rateLimited.Inc()
			secs := int(wait.Seconds())
			if time.Duration(secs)*time.Second < wait {
				secs++
			}
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
			writeError(w, http.StatusTooManyRequests, "", "too many requests from this address; retry later")
			return
		}
		h(w, r)
	}))
}

// setCORS opens a public answer to every origin.
func setCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "ETag, Retry-After, Link")
}

// handlePreflight answers a CORS preflight of a public endpoint.
func (a *API) handlePreflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	setCORS(h)
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "If-None-Match, Accept, Cache-Control")
	h.Set("Access-Control-Max-Age", "86400")
	h.Set("Allow", "GET, HEAD, OPTIONS")
	w.WriteHeader(http.StatusNoContent)
}

// apiError is the body of every error answer.
type apiError struct {
	Error     string `json:"error"`
	Parameter string `json:"parameter,omitempty"`
}

// writeError answers with status and a JSON error naming param (if any).
func writeError(w http.ResponseWriter, status int, param, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Del("ETag")
	w.WriteHeader(status)
	b, _ := json.Marshal(apiError{Error: msg, Parameter: param})
	_, _ = w.Write(append(b, '\n'))
}

// paramError is a bad request parameter.
type paramError struct {
	param string
	msg   string
}

func (e *paramError) Error() string { return e.param + ": " + e.msg }

// badParam answers 400 for a *paramError.
func badParam(w http.ResponseWriter, err *paramError) {
	writeError(w, http.StatusBadRequest, err.param, err.Error())
}

// writeJSON answers 200 with v as JSON of contentType.
func writeJSON(w http.ResponseWriter, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", "encode answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(append(b, '\n'))
}
