package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/twin/api"
)

// fakeCommands stands in for ingest/command behind the real twin/api
// (api.Config.Commands): it keeps commands in memory and answers the
// contract of issue 16 (/work contract "Ingest API", twin/api's OpenAPI
// operations issueCommand ... rejectCommand): the states, the JSON
// shapes, 400 naming the field with the profile's own Check message, 404
// for a site without writable points, 409 when the approver's token is
// the issuer's or the command is not awaiting approval. Nothing is
// published: the test moves a command on with report, as a gateway's
// reports would.
type fakeCommands struct {
	t     testing.TB
	mux   *http.ServeMux
	mu    sync.Mutex
	sites map[string]*fakeWritable // by entity ID
	cmds  []*fakeCommand           // oldest first
	posts int                      // POST /commands received
}

// fakeWritable is a site whose device has writable points.
type fakeWritable struct {
	gateway, device string
	prof            *profile.Profile
	current         map[string]float64
}

type cmdOperator struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

type cmdStep struct {
	Status   string       `json:"status"`
	At       time.Time    `json:"at"`
	Detail   string       `json:"detail,omitempty"`
	Operator *cmdOperator `json:"operator,omitempty"`
}

type cmdApproval struct {
	Operator cmdOperator `json:"operator"`
	At       time.Time   `json:"at"`
}

// fakeCommand is the contract's Command JSON.
type fakeCommand struct {
	ID       string       `json:"id"`
	Entity   string       `json:"entity"`
	Gateway  string       `json:"gateway"`
	Device   string       `json:"device"`
	Point    string       `json:"point"`
	Value    float64      `json:"value"`
	Text     string       `json:"text,omitempty"`
	Unit     string       `json:"unit,omitempty"`
	Reason   string       `json:"reason"`
	Operator cmdOperator  `json:"operator"`
	State    string       `json:"state"`
	Created  time.Time    `json:"created"`
	Expires  time.Time    `json:"expires"`
	Approval *cmdApproval `json:"approval"`
	Readback *float64     `json:"readback"`
	// ReadbackText is the text a gateway read back (text commands).
	ReadbackText *string   `json:"readback_text,omitempty"`
	Detail       string    `json:"detail,omitempty"`
	Steps        []cmdStep `json:"steps"`
}

// cmdFinal are the states a command never leaves.
var cmdFinal = map[string]bool{"applied": true, "refused": true, "failed": true, "expired": true, "rejected": true}

func newFakeCommands(t testing.TB) *fakeCommands {
	f := &fakeCommands{t: t, sites: map[string]*fakeWritable{}, mux: http.NewServeMux()}
	f.mux.HandleFunc("GET /api/v1/commands", f.list)
	f.mux.HandleFunc("POST /api/v1/commands", f.issue)
	f.mux.HandleFunc("GET /api/v1/commands/points", f.points)
	f.mux.HandleFunc("GET /api/v1/commands/audit", f.audit)
	f.mux.HandleFunc("GET /api/v1/commands/{id}", f.get)
	f.mux.HandleFunc("POST /api/v1/commands/{id}/approve", f.approve)
	f.mux.HandleFunc("POST /api/v1/commands/{id}/reject", f.reject)
	return f
}

// addSite makes entity's device writable with the profile in file.
func (f *fakeCommands) addSite(entity, gateway, device, file string) *profile.Profile {
	p, err := profile.Load(file)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sites[entity] = &fakeWritable{gateway: gateway, device: device, prof: p, current: map[string]float64{}}
	return p
}

// setCurrent sets the value a point reads now.
func (f *fakeCommands) setCurrent(entity, point string, v float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sites[entity].current[point] = v
}

// rules returns the write rules of a site's point (the test may change
// them: the profile changed on the server).
func (f *fakeCommands) rules(entity, point string) *profile.Write {
	f.mu.Lock()
	defer f.mu.Unlock()
	wp, err := f.sites[entity].prof.Writable(point)
	if err != nil {
		f.t.Fatal(err)
	}
	return wp.Write
}

func (f *fakeCommands) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// latest returns a copy of the newest command (false if none).
func (f *fakeCommands) latest() (fakeCommand, int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.cmds) == 0 {
		return fakeCommand{}, f.posts, false
	}
	return *f.cmds[len(f.cmds)-1], f.posts, true
}

// report moves a command on as its gateway's report would: received,
// sent, applied (with the read-back), refused, failed, expired.
func (f *fakeCommands) report(id, status string, readback *float64, detail string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(id)
	if c == nil {
		f.t.Fatalf("report on unknown command %s", id)
	}
	c.State, c.Detail, c.Readback = status, detail, readback
	c.Steps = append(c.Steps, cmdStep{Status: status, At: time.Now().UTC(), Detail: detail})
	if status == "applied" && readback != nil {
		f.sites[c.Entity].current[c.Point] = *readback
	}
}

// reportText moves a text command to applied with the text read back.
func (f *fakeCommands) reportText(id, readback string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(id)
	if c == nil {
		f.t.Fatalf("report on unknown command %s", id)
	}
	c.State, c.ReadbackText = "applied", &readback
	c.Steps = append(c.Steps, cmdStep{Status: "applied", At: time.Now().UTC()})
}

func (f *fakeCommands) find(id string) *fakeCommand {
	for _, c := range f.cmds {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// cmdError answers status with the contract's error body naming field.
func cmdError(w http.ResponseWriter, status int, field, msg string) {
	body := map[string]string{"error": msg}
	if field != "" {
		body["field"] = field
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func cmdJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type cmdChoice struct {
	Value float64 `json:"value"`
	Label string  `json:"label,omitempty"`
}

type cmdMessage struct {
	Text  string `json:"text"`
	Label string `json:"label"`
}

type cmdPoint struct {
	Name        string       `json:"name"`
	Kind        string       `json:"kind"`
	MaxLength   int          `json:"max_length,omitempty"`
	Charset     string       `json:"charset,omitempty"`
	Messages    []cmdMessage `json:"messages,omitempty"`
	Unit        string       `json:"unit,omitempty"`
	Description string       `json:"description,omitempty"`
	Min         *float64     `json:"min,omitempty"`
	Max         *float64     `json:"max,omitempty"`
	Step        float64      `json:"step,omitempty"`
	Enum        []cmdChoice  `json:"enum,omitempty"`
	Safe        *float64     `json:"safe,omitempty"`
	Approval    bool         `json:"approval"`
	Current     *float64     `json:"current"`
}

func (f *fakeCommands) points(w http.ResponseWriter, r *http.Request) {
	entity := r.URL.Query().Get("entity")
	if entity == "" {
		cmdError(w, http.StatusBadRequest, "entity", "entity: expected a site's entity ID")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sites[entity]
	if s == nil {
		cmdError(w, http.StatusNotFound, "entity", fmt.Sprintf("entity %s has no writable point", entity))
		return
	}
	out := []cmdPoint{}
	for _, wp := range s.prof.WritePoints() {
		wr := wp.Write
		p := cmdPoint{Name: wp.Name, Kind: "number", Unit: wp.Unit, Min: wr.Min, Max: wr.Max, Step: wr.Step, Safe: wr.Safe, Approval: wr.Approval}
		if wr.IsText() {
			p.Kind, p.MaxLength, p.Charset = "text", wr.Text.MaxLength, wr.Text.Allowed()
			for _, m := range wr.Text.Messages {
				p.Messages = append(p.Messages, cmdMessage{Text: m.Text, Label: m.Label})
			}
		}
		for _, mp := range s.prof.Modbus.Points {
			if mp.Name == wp.Name {
				p.Description = mp.Description
			}
		}
		for _, c := range wr.Enum {
			p.Enum = append(p.Enum, cmdChoice{Value: c.Value, Label: c.Label})
		}
		if v, ok := s.current[wp.Name]; ok {
			p.Current = &v
		}
		out = append(out, p)
	}
	cmdJSON(w, http.StatusOK, map[string]any{"entity": entity, "gateway": s.gateway, "device": s.device, "points": out})
}

// name checks an operator's name or a reason: 1 to max characters.
func textOK(s string, max int) bool {
	n := utf8.RuneCountInString(s)
	return n >= 1 && n <= max
}

func (f *fakeCommands) issue(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Entity    string   `json:"entity"`
		Point     string   `json:"point"`
		Value     *float64 `json:"value"`
		Text      *string  `json:"text"`
		Reason    string   `json:"reason"`
		Operator  string   `json:"operator"`
		ExpiresIn string   `json:"expires_in"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		cmdError(w, http.StatusBadRequest, "", "body: expected a command as JSON: "+err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts++
	s := f.sites[req.Entity]
	if s == nil {
		cmdError(w, http.StatusNotFound, "entity", fmt.Sprintf("entity %q has no writable point", req.Entity))
		return
	}
	wp, err := s.prof.Writable(req.Point)
	switch {
	case err != nil:
		cmdError(w, http.StatusBadRequest, "point", "point: "+err.Error())
		return
	case req.Value == nil && !wp.Write.IsText():
		cmdError(w, http.StatusBadRequest, "value", "value: expected a number")
		return
	case req.Text == nil && wp.Write.IsText():
		cmdError(w, http.StatusBadRequest, "text", "text: required (the message to show)")
		return
	case !textOK(req.Reason, 500):
		cmdError(w, http.StatusBadRequest, "reason", "reason: expected 1 to 500 characters")
		return
	case !textOK(req.Operator, 80):
		cmdError(w, http.StatusBadRequest, "operator", "operator: expected a name of 1 to 80 characters")
		return
	}
	if wp.Write.IsText() {
		if err := wp.Write.CheckText(*req.Text); err != nil {
			cmdError(w, http.StatusBadRequest, "text", err.Error())
			return
		}
	} else if err := wp.Write.Check(*req.Value, wp.Unit); err != nil {
		cmdError(w, http.StatusBadRequest, "value", err.Error())
		return
	}
	ttl := 5 * time.Minute
	if req.ExpiresIn != "" {
		if ttl, err = time.ParseDuration(req.ExpiresIn); err != nil || ttl <= 0 || ttl > time.Hour {
			cmdError(w, http.StatusBadRequest, "expires_in", "expires_in: expected a duration up to 1h, such as 5m")
			return
		}
	}
	now := time.Now().UTC()
	op := cmdOperator{Name: req.Operator, ID: api.OperatorID(r)}
	c := &fakeCommand{ID: "c" + strconv.Itoa(len(f.cmds)+1) + "-" + strconv.FormatInt(now.UnixNano()%1e6, 36), Entity: req.Entity,
		Gateway: s.gateway, Device: s.device, Point: req.Point, Unit: wp.Unit, Reason: req.Reason, Operator: op,
		State: "queued", Created: now, Expires: now.Add(ttl), Steps: []cmdStep{{Status: "issued", At: now, Operator: &op}}}
	if req.Text != nil {
		c.Text = *req.Text
	} else {
		c.Value = *req.Value
	}
	if wp.Write.Approval {
		c.State = "awaiting_approval"
	} else {
		c.Steps = append(c.Steps, cmdStep{Status: "published", At: now})
	}
	f.cmds = append(f.cmds, c)
	cmdJSON(w, http.StatusAccepted, c)
}

func (f *fakeCommands) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	if state != "open" && state != "all" {
		cmdError(w, http.StatusBadRequest, "state", "state: expected open or all")
		return
	}
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			cmdError(w, http.StatusBadRequest, "limit", "limit: expected 1 to 1000")
			return
		}
		limit = n
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []*fakeCommand{}
	for _, c := range slices.Backward(f.cmds) {
		if (state == "open" && cmdFinal[c.State]) || (q.Get("entity") != "" && c.Entity != q.Get("entity")) {
			continue
		}
		if len(out) == limit {
			break
		}
		out = append(out, c)
	}
	cmdJSON(w, http.StatusOK, map[string]any{"commands": out})
}

func (f *fakeCommands) get(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(r.PathValue("id"))
	if c == nil {
		cmdError(w, http.StatusNotFound, "id", "no command "+r.PathValue("id"))
		return
	}
	cmdJSON(w, http.StatusOK, c)
}

// audit answers the steps of every command as audit entries, in order.
func (f *fakeCommands) audit(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	entries := []map[string]any{}
	for _, c := range f.cmds {
		for _, s := range c.Steps {
			entries = append(entries, map[string]any{"seq": len(entries) + 1, "at": s.At, "command": c.ID, "event": s.Status,
				"operator": s.Operator, "gateway": c.Gateway, "device": c.Device, "point": c.Point, "value": c.Value, "detail": s.Detail})
		}
	}
	cmdJSON(w, http.StatusOK, map[string]any{"entries": entries})
}

// decide reads an approval's or rejection's body and finds its command,
// awaiting approval; it answers the error itself and returns nil.
func (f *fakeCommands) decide(w http.ResponseWriter, r *http.Request, needReason bool) (*fakeCommand, cmdOperator, string) {
	var req struct {
		Operator string `json:"operator"`
		Reason   string `json:"reason"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		cmdError(w, http.StatusBadRequest, "", "body: expected {\"operator\": ...} as JSON: "+err.Error())
		return nil, cmdOperator{}, ""
	}
	c := f.find(r.PathValue("id"))
	switch {
	case c == nil:
		cmdError(w, http.StatusNotFound, "id", "no command "+r.PathValue("id"))
	case !textOK(req.Operator, 80):
		cmdError(w, http.StatusBadRequest, "operator", "operator: expected a name of 1 to 80 characters")
	case needReason && !textOK(req.Reason, 500):
		cmdError(w, http.StatusBadRequest, "reason", "reason: expected 1 to 500 characters")
	case c.State != "awaiting_approval":
		cmdError(w, http.StatusConflict, "", fmt.Sprintf("command %s is not awaiting approval (it is %s)", c.ID, c.State))
	default:
		return c, cmdOperator{Name: req.Operator, ID: api.OperatorID(r)}, req.Reason
	}
	return nil, cmdOperator{}, ""
}

func (f *fakeCommands) approve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, op, _ := f.decide(w, r, false)
	if c == nil {
		return
	}
	if op.ID == c.Operator.ID {
		cmdError(w, http.StatusConflict, "", "a second operator must approve: the approver's token is the issuer's")
		return
	}
	now := time.Now().UTC()
	c.Approval = &cmdApproval{Operator: op, At: now}
	c.State = "queued"
	c.Steps = append(c.Steps, cmdStep{Status: "approved", At: now, Operator: &op}, cmdStep{Status: "published", At: now})
	cmdJSON(w, http.StatusOK, c)
}

func (f *fakeCommands) reject(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, op, reason := f.decide(w, r, true)
	if c == nil {
		return
	}
	c.State = "rejected"
	c.Steps = append(c.Steps, cmdStep{Status: "rejected", At: time.Now().UTC(), Detail: reason, Operator: &op})
	cmdJSON(w, http.StatusOK, c)
}
