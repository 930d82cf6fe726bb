package command

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/api"
)

// maxBody caps a request's body.
const maxBody = 4 << 10

// Point is one writable point as GET /api/v1/commands/points shows it.
type Point struct {
	Name string `json:"name"`
	// Kind is "number" (value, within min/max or enum) or "text" (text,
	// within max_length and charset).
	Kind        string   `json:"kind"`
	Unit        string   `json:"unit,omitempty"`
	Description string   `json:"description,omitempty"`
	Min         *float64 `json:"min,omitempty"`
	Max         *float64 `json:"max,omitempty"`
	Step        float64  `json:"step,omitempty"`
	Enum        []Choice `json:"enum,omitempty"`
	Safe        *float64 `json:"safe,omitempty"`
	Approval    bool     `json:"approval"`
	Current     *float64 `json:"current"`
	// MaxLength, Charset (the allowed characters, as one string) and
	// Messages (presets, Italian labels) describe a text point.
	MaxLength int       `json:"max_length,omitempty"`
	Charset   string    `json:"charset,omitempty"`
	Messages  []Message `json:"messages,omitempty"`
	// Uppercase says a text point's text is upper-cased before it is
	// checked and written (the display has no lowercase).
	Uppercase bool `json:"uppercase,omitempty"`
}

// Message is a preset message of a text point.
type Message struct {
	Text  string `json:"text"`
	Label string `json:"label"`
}

// Choice is an allowed value of an enumerated point.
type Choice struct {
	Value float64 `json:"value"`
	Label string  `json:"label,omitempty"`
}

// Points are an entity's writable points.
type Points struct {
	Entity  string  `json:"entity"`
	Gateway string  `json:"gateway"`
	Device  string  `json:"device"`
	Points  []Point `json:"points"`
}

// Points returns the writable points of an entity scope sees (404 when
// it has none).
func (s *Service) Points(scope twin.Scope, entity string) (Points, error) {
	t, err := s.target(scope, entity)
	if err != nil {
		return Points{}, err
	}
	out := Points{Entity: t.Entity, Gateway: t.Gateway, Device: t.Device}
	if t.Profile != nil {
		for _, wp := range t.Profile.WritePoints() {
			w := wp.Write
			p := Point{Name: wp.Name, Kind: "number", Unit: wp.Unit, Description: wp.Description, Min: w.Min, Max: w.Max, Step: w.Step, Safe: w.Safe, Approval: w.Approval}
			for _, c := range w.Enum {
				p.Enum = append(p.Enum, Choice{Value: c.Value, Label: c.Label})
			}
			if w.IsText() {
				p.Kind, p.MaxLength, p.Charset, p.Uppercase = "text", w.Text.MaxLength, w.Text.Allowed(), w.Text.Uppercase
				for _, m := range w.Text.Messages {
					p.Messages = append(p.Messages, Message{Text: m.Text, Label: m.Label})
				}
			}
			// What the device shows now: its read-back point (an RSMP plan
			// request's current plan is status S0014, not the command).
			if v, ok := t.Current[w.ReadbackPoint(wp.Name)]; ok {
				p.Current = &v
			}
			out.Points = append(out.Points, p)
		}
	}
	if len(out.Points) == 0 {
		return Points{}, &Error{Status: http.StatusNotFound, Field: "entity", Msg: fmt.Sprintf("entity %q has no writable point", entity)}
	}
	return out, nil
}

// Handler serves /api/v1/commands and below, behind the twin API's
// operator check (api.Config.Commands): api.ScopeOf is the caller's
// scope, api.OperatorID the caller.
func (s *Service) Handler() http.Handler { return s.handler(api.ScopeOf, api.OperatorID) }

func (s *Service) handler(scopeOf func(*http.Request) twin.Scope, opOf func(*http.Request) string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/commands/points", func(w http.ResponseWriter, r *http.Request) {
		p, err := s.Points(scopeOf(r), r.URL.Query().Get("entity"))
		reply(w, http.StatusOK, p, err)
	})
	mux.HandleFunc("GET /api/v1/commands/audit", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var since time.Time
		if v := q.Get("since"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				reply(w, 0, nil, fieldError("since", "%q: expected an RFC 3339 time", v))
				return
			}
			since = t
		}
		limit, lerr := limitParam(q.Get("limit"), 1000, 10000)
		if lerr != nil {
			reply(w, 0, nil, lerr)
			return
		}
		es, err := s.Audit(scopeOf(r), since, limit)
		if es == nil {
			es = []Entry{}
		}
		reply(w, http.StatusOK, map[string]any{"entries": es}, err)
	})
	mux.HandleFunc("GET /api/v1/commands", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		state := q.Get("state")
		if state != "" && state != "open" && state != "all" {
			reply(w, 0, nil, fieldError("state", "%q: expected open or all", state))
			return
		}
		limit, lerr := limitParam(q.Get("limit"), 100, 1000)
		if lerr != nil {
			reply(w, 0, nil, lerr)
			return
		}
		cs := s.List(scopeOf(r), state == "all", q.Get("entity"), limit)
		if cs == nil {
			cs = []Command{}
		}
		reply(w, http.StatusOK, map[string]any{"commands": cs}, nil)
	})
	mux.HandleFunc("POST /api/v1/commands", func(w http.ResponseWriter, r *http.Request) {
		var req Request
		if !decode(w, r, &req) {
			return
		}
		c, err := s.Issue(r.Context(), scopeOf(r), opOf(r), req)
		reply(w, http.StatusAccepted, c, err)
	})
	mux.HandleFunc("GET /api/v1/commands/{id}", func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.Get(scopeOf(r), r.PathValue("id"))
		if !ok {
			reply(w, 0, nil, &Error{Status: http.StatusNotFound, Field: "id", Msg: fmt.Sprintf("command %q not found", r.PathValue("id"))})
			return
		}
		reply(w, http.StatusOK, c, nil)
	})
	decision := func(act func(r *http.Request, scope twin.Scope, op, id string, d Decision) (Command, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var d Decision
			if !decode(w, r, &d) {
				return
			}
			c, err := act(r, scopeOf(r), opOf(r), r.PathValue("id"), d)
			reply(w, http.StatusOK, c, err)
		}
	}
	mux.HandleFunc("POST /api/v1/commands/{id}/approve", decision(func(r *http.Request, scope twin.Scope, op, id string, d Decision) (Command, error) {
		return s.Approve(r.Context(), scope, op, id, d)
	}))
	mux.HandleFunc("POST /api/v1/commands/{id}/reject", decision(func(r *http.Request, scope twin.Scope, op, id string, d Decision) (Command, error) {
		return s.Reject(r.Context(), scope, op, id, d)
	}))
	return mux
}

// limitParam parses a limit query parameter.
func limitParam(v string, def, maxN int) (int, *Error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxN {
		return 0, fieldError("limit", "%q: expected a whole number from 1 to %d", v, maxN)
	}
	return n, nil
}

// decode reads a JSON body of at most maxBody bytes into v, answering
// 400 (or 413) itself when it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	d := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			reply(w, 0, nil, &Error{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("body: more than %d bytes", maxBody)})
			return false
		}
		reply(w, 0, nil, &Error{Status: http.StatusBadRequest, Field: "body", Msg: "body: expected a JSON object: " + err.Error()})
		return false
	}
	return true
}

// apiError is the body of an error answer, as twin/api writes it.
type apiError struct {
	Error     string `json:"error"`
	Parameter string `json:"parameter,omitempty"`
}

// reply answers v with status, or err as its status and JSON error.
func reply(w http.ResponseWriter, status int, v any, err error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if err != nil {
		e := errorOf(err)
		if e.RetryAfter > 0 {
			h.Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
		}
		status, v = e.Status, apiError{Error: e.Msg, Parameter: e.Field}
	}
	w.WriteHeader(status)
	b, _ := json.Marshal(v)
	_, _ = w.Write(append(b, '\n'))
}
