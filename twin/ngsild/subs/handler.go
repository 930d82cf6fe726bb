package subs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// Base is the path of the subscriptions collection (clause 6.10).
const Base = "/ngsi-ld/v1/subscriptions"

// NGSI-LD error types this package answers besides ngsild's (clause 5.5.2).
const (
	errResourceNotFound      = "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
	errAlreadyExists         = "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists"
	errOperationNotSupported = "https://uri.etsi.org/ngsi-ld/errors/OperationNotSupported"
)

// Handler serves POST and GET on Base, and GET, PATCH and DELETE on
// Base/{id}; every request needs a scope from Config.Scope.
func (m *Manager) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{Base, Base + "/{$}"} {
		mux.HandleFunc("POST "+p, m.scoped(m.handleCreate))
		mux.HandleFunc("GET "+p, m.scoped(m.handleList))
	}
	mux.HandleFunc("GET "+Base+"/{id}", m.scoped(m.handleGet))
	mux.HandleFunc("PATCH "+Base+"/{id}", m.scoped(m.handlePatch))
	mux.HandleFunc("DELETE "+Base+"/{id}", m.scoped(m.handleDelete))
	return mux
}

// scoped answers 401 to a request without a scope.
func (m *Manager) scoped(h func(http.ResponseWriter, *http.Request, twin.Scope)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := m.cfg.Scope(r)
		if !ok {
			writeProblem(w, &ngsild.Problem{Type: ngsild.ErrInvalidRequest, Title: "Unauthorized", Status: http.StatusUnauthorized,
				Detail: "this operation needs an operator token"})
			return
		}
		h(w, r, s)
	}
}

// writeProblem answers p as application/json (clause 6.3.2).
func writeProblem(w http.ResponseWriter, p *ngsild.Problem) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(p.Status)
	encode(w, p)
}

// writeError answers err: a *ngsild.Problem as it is, the operations'
// errors with their status, anything else as 500.
func (m *Manager) writeError(w http.ResponseWriter, err error) {
	var p *ngsild.Problem
	switch {
	case errors.As(err, &p):
		writeProblem(w, p)
	case errors.Is(err, errNotFound):
		writeProblem(w, &ngsild.Problem{Type: errResourceNotFound, Title: "Not found", Status: http.StatusNotFound, Detail: err.Error()})
	case errors.Is(err, errExists):
		writeProblem(w, &ngsild.Problem{Type: errAlreadyExists, Title: "Already exists", Status: http.StatusConflict, Detail: err.Error()})
	case errors.Is(err, errLimit):
		writeProblem(w, &ngsild.Problem{Type: errOperationNotSupported, Title: "Too many subscriptions", Status: http.StatusForbidden, Detail: err.Error()})
	default:
		m.cfg.Logger.Error("ngsi-ld subscriptions", "err", err)
		writeProblem(w, &ngsild.Problem{Type: "https://uri.etsi.org/ngsi-ld/errors/InternalError", Title: "Internal error",
			Status: http.StatusInternalServerError, Detail: "the subscription could not be stored; see the server's log"})
	}
}

// readBody reads a JSON or JSON-LD body of at most MaxBodyBytes.
func (m *Manager) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *ngsild.Problem) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != mediaJSON && mt != mediaJSONLD && mt != "application/merge-patch+json") {
		return nil, &ngsild.Problem{Type: ngsild.ErrInvalidRequest, Title: "Unsupported media type", Status: http.StatusUnsupportedMediaType,
			Detail: fmt.Sprintf("Content-Type: %s or %s is expected, found %q", mediaJSON, mediaJSONLD, r.Header.Get("Content-Type"))}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, m.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &ngsild.Problem{Type: ngsild.ErrBadRequestData, Title: "Body too large", Status: http.StatusRequestEntityTooLarge,
				Detail: fmt.Sprintf("body: larger than %d bytes", m.cfg.MaxBodyBytes)}
		}
		return nil, problem("body", "could not be read: %v", err)
	}
	return b, nil
}

func (m *Manager) handleCreate(w http.ResponseWriter, r *http.Request, scope twin.Scope) {
	b, p := m.readBody(w, r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	def, c, err := decodeDefinition(b, m.cfg.Now(), m.allowedURL)
	if err != nil {
		m.writeError(w, err)
		return
	}
	id, err := m.create(scope, def, c)
	if err != nil {
		m.writeError(w, err)
		return
	}
	w.Header().Set("Location", Base+"/"+id)
	w.WriteHeader(http.StatusCreated)
}

func (m *Manager) handlePatch(w http.ResponseWriter, r *http.Request, scope twin.Scope) {
	b, p := m.readBody(w, r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	var fragment map[string]json.RawMessage
	if err := json.Unmarshal(b, &fragment); err != nil || fragment == nil {
		writeProblem(w, problem("body", "a JSON object is expected"))
		return
	}
	if err := m.patch(scope, r.PathValue("id"), fragment); err != nil {
		m.writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (m *Manager) handleDelete(w http.ResponseWriter, r *http.Request, scope twin.Scope) {
	if err := m.remove(scope, r.PathValue("id")); err != nil {
		m.writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (m *Manager) handleGet(w http.ResponseWriter, r *http.Request, scope twin.Scope) {
	now := m.cfg.Now()
	m.mu.Lock()
	s, err := m.lookupLocked(scope.Key(), r.PathValue("id"))
	var v map[string]any
	if err == nil {
		v = s.view(now)
	}
	m.mu.Unlock()
	if err != nil {
		m.writeError(w, err)
		return
	}
	m.writeJSON(w, http.StatusOK, v)
}

// handleList answers the caller's subscriptions in creation order, paged
// with limit (default 20, at most 1000) and offset; count=true adds
// NGSILD-Results-Count.
func (m *Manager) handleList(w http.ResponseWriter, r *http.Request, scope twin.Scope) {
	pg, err := parsePaging(r.URL.RawQuery)
	if err != nil {
		m.writeError(w, err)
		return
	}
	limit, offset := pg.limit, pg.offset
	now := m.cfg.Now()
	out := []map[string]any{}
	m.mu.Lock()
	total := 0
	for _, s := range m.sortedLocked() {
		if s.key != scope.Key() {
			continue
		}
		if total >= offset && len(out) < limit {
			out = append(out, s.view(now))
		}
		total++
	}
	m.mu.Unlock()
	if pg.count {
		w.Header().Set("NGSILD-Results-Count", strconv.Itoa(total))
	}
	m.writeJSON(w, http.StatusOK, out)
}

// paging is the list's query: limit (default ngsild.DefaultLimit, at most
// ngsild.MaxLimit), offset and count.
type paging struct {
	limit, offset int
	count         bool
}

// parsePaging reads the list's query; errors are *ngsild.Problem naming
// the parameter.
func parsePaging(rawQuery string) (paging, error) {
	pg := paging{limit: ngsild.DefaultLimit}
	v, err := ngsild.SplitRawQuery(rawQuery)
	if err != nil {
		return pg, err
	}
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"limit", &pg.limit, ngsild.MaxLimit}, {"offset", &pg.offset, -1}} {
		s := v.Get(p.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || (p.max >= 0 && n > p.max) {
			bound := ">= 0"
			if p.max >= 0 {
				bound = fmt.Sprintf("0..%d", p.max)
			}
			return pg, problem(p.name, "an integer %s is expected, found %q", bound, s)
		}
		*p.dst = n
	}
	pg.count = v.Get("count") == "true"
	return pg, nil
}

// writeJSON answers v as application/json with the Link to the context.
func (m *Manager) writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("Link", ngsild.LinkHeader(m.cfg.ContextURL))
	w.WriteHeader(code)
	encode(w, v)
}

// encode writes v as JSON without HTML escaping (q holds < and >).
func encode(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// view is s as GET shows it: its definition, isActive and status, and
// the delivery status in notification (clause 5.2.14).
func (s *sub) view(now time.Time) map[string]any {
	b, _ := json.Marshal(s.def)
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	v["isActive"] = s.def.IsActive == nil || *s.def.IsActive
	v["status"] = s.statusOf(now)
	n, _ := v["notification"].(map[string]any)
	if n == nil {
		n = map[string]any{}
		v["notification"] = n
	}
	n["timesSent"] = s.st.timesSent
	n["timesFailed"] = s.st.timesFailed
	n["consecutiveErrors"] = s.st.consecutiveErrors
	for k, t := range map[string]time.Time{"lastNotification": s.st.lastNotification, "lastSuccess": s.st.lastSuccess, "lastFailure": s.st.lastFailure} {
		if !t.IsZero() {
			n[k] = t.UTC().Format("2006-01-02T15:04:05.000Z")
		}
	}
	if s.st.timesSent > 0 {
		n["status"] = "ok"
		if s.st.consecutiveErrors > 0 {
			n["status"] = "failed"
			n["lastErrorReason"] = s.st.lastErrorReason
		}
	}
	return v
}
