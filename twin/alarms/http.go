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
func (e *Engine) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/alarms", e.handleList)
	mux.HandleFunc("GET /api/v1/alarms/stream", e.handleStream)
	mux.HandleFunc("GET /api/v1/alarms/{id}", e.handleGet)
	mux.HandleFunc("POST /api/v1/alarms/{id}/ack", e.handleAck)
	return mux
}

func (e *Engine) handleList(w http.ResponseWriter, r *http.Request) {
	q, param, msg := parseQuery(r)
	if msg != "" {
		writeError(w, http.StatusBadRequest, param, msg)
		return
	}
	writeJSON(w, http.StatusOK, e.list(q))
}

// list is the List answer for q.
func (e *Engine) list(q Query) List {
	out := List{Generated: e.cfg.Now().UTC(), Open: map[Severity]int{}, Alarms: e.List(q)}
	for _, s := range severities {
		out.Open[s] = 0
	}
	e.mu.Lock()
	for _, a := range e.open {
		out.Open[a.Severity]++
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

func (e *Engine) handleGet(w http.ResponseWriter, r *http.Request) {
	a, ok := e.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "", "no alarm "+quote(r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (e *Engine) handleAck(w http.ResponseWriter, r *http.Request) {
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
	a, err := e.Ack(r.PathValue("id"), req.Operator, r.RemoteAddr, req.Note)
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
func (e *Engine) handleStream(w http.ResponseWriter, r *http.Request) {
	open, ch, unsubscribe := e.Subscribe()
	defer unsubscribe()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
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
	l := e.list(Query{})
	l.Alarms = open
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
