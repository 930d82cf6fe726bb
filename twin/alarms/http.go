package alarms

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ponte-city/ponte/twin"
)

// HTTP answers, for the API's routes (mounted by ingest under the twin
// API's operator check; see the package doc).
const (
	streamHeartbeat    = 15 * time.Second
	streamWriteTimeout = 30 * time.Second
	maxAckBody         = 4 << 10
	maxOperatorName    = 100
	maxNote            = 1000
)

// List is the answer of GET /api/v1/alarms.
type List struct {
	Generated time.Time `json:"generated"`
	// Open counts every open alarm by severity, whatever the query.
	Open   map[Severity]int `json:"open"`
	Alarms []Alarm          `json:"alarms"`
}

// AckRequest is the body of POST /api/v1/alarms/{id}/ack.
type AckRequest struct {
	// Operator names who acknowledges (operator tokens are shared, so
	// the name is what the operator says; the request's address is
	// recorded with it).
	Operator string `json:"operator"`
	Note     string `json:"note,omitempty"`
}

// Handler serves GET /api/v1/alarms, GET /api/v1/alarms/{id}, POST
// /api/v1/alarms/{id}/ack and GET /api/v1/alarms/stream. It does not
// check who calls: mount it behind the operators' token check.
func (e *Engine) Handler() http.Handler { return e.ScopedHandler(nil) }

// Sees returns, for one request, whether its caller may see an alarm.
type Sees func(r *http.Request) func(*Alarm) bool

// ScopedHandler is Handler for callers who see some alarms only (an
// operator of one tenant): an alarm sees(r) refuses is left out of lists,
// counts and the stream, and answered as one that does not exist. A nil
// sees sees every alarm.
func (e *Engine) ScopedHandler(sees Sees) http.Handler {
	if sees == nil {
		sees = func(*http.Request) func(*Alarm) bool { return func(*Alarm) bool { return true } }
	}
	h := &handler{e: e, sees: sees}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/alarms", h.handleList)
	mux.HandleFunc("GET /api/v1/alarms/stream", h.handleStream)
	mux.HandleFunc("GET /api/v1/alarms/{id}", h.handleGet)
	mux.HandleFunc("POST /api/v1/alarms/{id}/ack", h.handleAck)
	return mux
}

// handler serves the alarms to callers who see what sees lets them.
type handler struct {
	e    *Engine
	sees Sees
}

func (h *handler) handleList(w http.ResponseWriter, r *http.Request) {
	q, param, msg := parseQuery(r)
	if msg != "" {
		writeError(w, http.StatusBadRequest, param, msg)
		return
	}
	writeJSON(w, http.StatusOK, h.e.list(q, h.sees(r)))
}

// list is the List answer for q, of the alarms sees keeps.
func (e *Engine) list(q Query, sees func(*Alarm) bool) List {
	out := List{Generated: e.cfg.Now().UTC(), Open: map[Severity]int{}, Alarms: e.List(q)}
	out.Alarms = slices.DeleteFunc(out.Alarms, func(a Alarm) bool { return !sees(&a) })
	for _, s := range severities {
		out.Open[s] = 0
	}
	e.mu.Lock()
	for _, a := range e.open {
		if sees(a) {
			out.Open[a.Severity]++
		}
	}
	e.mu.Unlock()
	return out
}

// parseQuery reads ?state= (comma-separated states, "open" or "all"),
// ?since= (RFC 3339) and ?entity=.
func parseQuery(r *http.Request) (q Query, param, msg string) {
	v := r.URL.Query()
	for _, s := range strings.Split(v.Get("state"), ",") {
		switch s = strings.TrimSpace(s); {
		case s == "":
		case s == "open":
			q.States = append(q.States, Raised, Acknowledged, Cleared)
		case s == "all":
			q.States = append(q.States, states...)
		case slices.Contains(states, State(s)):
			q.States = append(q.States, State(s))
		default:
			return q, "state", quote(s) + " is not a state (expected raised, acknowledged, cleared, closed, open or all, comma-separated)"
		}
	}
	if s := v.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, "since", quote(s) + " is not a time (expected RFC 3339, e.g. 2026-03-01T08:00:00Z)"
		}
		q.Since = t
	}
	q.Entity = v.Get("entity")
	return q, "", ""
}

func (h *handler) handleGet(w http.ResponseWriter, r *http.Request) {
	a, ok := h.e.Get(r.PathValue("id"))
	if !ok || !h.sees(r)(&a) {
		writeError(w, http.StatusNotFound, "", "no alarm "+quote(r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (h *handler) handleAck(w http.ResponseWriter, r *http.Request) {
	if a, ok := h.e.Get(r.PathValue("id")); !ok || !h.sees(r)(&a) {
		writeError(w, http.StatusNotFound, "", "no alarm "+quote(r.PathValue("id")))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAckBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "", "read the body: "+err.Error())
		return
	}
	if len(body) > maxAckBody {
		writeError(w, http.StatusRequestEntityTooLarge, "", "the body is larger than 4 KiB")
		return
	}
	var req AckRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "", `expected a JSON body {"operator": "<who acknowledges>", "note": "<optional>"}: `+err.Error())
		return
	}
	req.Operator = strings.TrimSpace(req.Operator)
	if msg := checkText(req.Operator, maxOperatorName, true); msg != "" {
		writeError(w, http.StatusBadRequest, "operator", "operator: "+msg)
		return
	}
	if msg := checkText(req.Note, maxNote, false); msg != "" {
		writeError(w, http.StatusBadRequest, "note", "note: "+msg)
		return
	}
	a, err := h.e.Ack(r.PathValue("id"), req.Operator, r.RemoteAddr, req.Note)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "", "no alarm "+quote(r.PathValue("id")))
	case errors.Is(err, ErrConflict):
		writeJSON(w, http.StatusConflict, struct {
			Error string `json:"error"`
			Alarm Alarm  `json:"alarm"`
		}{"the alarm is already acknowledged", a})
	case errors.Is(err, ErrUnavailable):
		w.Header().Set("Retry-After", "2")
		writeError(w, http.StatusServiceUnavailable, "", "the acknowledgement could not reach the instance that keeps the alarms (a failover in progress); try again")
	case err != nil:
		writeError(w, http.StatusInternalServerError, "", err.Error())
	default:
		writeJSON(w, http.StatusOK, a)
	}
}

// checkText checks a name or note: valid UTF-8, printable, not too long.
func checkText(s string, limit int, required bool) string {
	switch {
	case required && s == "":
		return "required: who acknowledges"
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	case utf8.RuneCountInString(s) > limit:
		return "longer than the limit of characters"
	case strings.IndexFunc(s, func(c rune) bool { return !unicode.IsPrint(c) && c != ' ' }) >= 0:
		return "contains control characters"
	}
	return ""
}

// handleStream sends the open alarms ("event: alarms", a List) and then
// each change ("event: alarm", an Event) as Server-Sent Events, until the
// client goes or falls behind (it reconnects and gets a fresh list).
func (h *handler) handleStream(w http.ResponseWriter, r *http.Request) {
	e, sees := h.e, h.sees(r)
	open, ch, unsubscribe := e.Subscribe()
	defer unsubscribe()
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var buf strings.Builder
	write := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		_, err := io.WriteString(w, buf.String())
		buf.Reset()
		if err == nil {
			err = rc.Flush()
		}
		return err == nil
	}
	event := func(name string, v any) {
		b, _ := json.Marshal(v)
		buf.WriteString("event: " + name + "\ndata: ")
		buf.Write(b)
		buf.WriteString("\n\n")
	}
	l := e.list(Query{}, sees)
	l.Alarms = slices.DeleteFunc(open, func(a Alarm) bool { return !sees(&a) })
	buf.WriteString("retry: 2000\n")
	event("alarms", l)
	if !write() {
		return
	}
	heartbeat := time.NewTicker(streamHeartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if !sees(&ev.Alarm) {
				continue
			}
			event("alarm", ev)
		case <-heartbeat.C:
			buf.WriteString(": ping\n\n")
		}
		if !write() {
			return
		}
	}
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// writeError answers with the twin API's error shape.
func writeError(w http.ResponseWriter, status int, param, msg string) {
	writeJSON(w, status, struct {
		Error     string `json:"error"`
		Parameter string `json:"parameter,omitempty"`
	}{msg, param})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode answer"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// ScopeSees is the Sees of callers whose twin.Scope scopeOf gives: an
// alarm of a site or area is seen by whoever sees that entity in the
// twin, a city-wide alarm by those who see the whole twin.
func ScopeSees(reader twin.Reader, scopeOf func(*http.Request) twin.Scope) Sees {
	return func(r *http.Request) func(*Alarm) bool {
		s := scopeOf(r)
		return func(a *Alarm) bool {
			if s.All() {
				return true
			}
			e, ok := reader.Entity(a.Entity)
			return ok && s.Visible(&e)
		}
	}
}
