package command

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// Details of the steps ingest makes itself.
const (
	detailNoReport    = "no report from the gateway before expiry"
	detailNotApproved = "not approved before expiry"
	detailLate        = "reported after ingest had marked it expired or failed; the gateway's report stands"
	detailNoFinal     = "no final report from the gateway"
)

// Error is a refused request: its HTTP status, the field at fault (if
// any) and the message, and how long to wait for a 429.
type Error struct {
	Status     int
	Field      string
	Msg        string
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Msg }

func fieldError(field, format string, a ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Field: field, Msg: field + ": " + fmt.Sprintf(format, a...)}
}

// Request asks for a command (the body of POST /api/v1/commands).
type Request struct {
	Entity string   `json:"entity"`
	Point  string   `json:"point"`
	Value  *float64 `json:"value"`
	// Text is the message for a text point (a message sign), instead of
	// Value.
	Text      *string `json:"text"`
	Reason    string  `json:"reason"`
	Operator  string  `json:"operator"`
	ExpiresIn string  `json:"expires_in"`
}

// Decision approves or rejects a command (the body of .../approve and
// .../reject).
type Decision struct {
	Operator string `json:"operator"`
	Reason   string `json:"reason"`
}

// Service keeps the commands; see the package doc.
type Service struct {
	cfg Config
	log *slog.Logger
	m   *metrics

	mu     sync.Mutex
	audit  *auditLog
	cmds   map[string]*Command
	devLim map[string]*rate.Limiter
	opLim  map[string]*rate.Limiter
	lastMs int64 // of the last ID
	// The index of cmds: open holds the commands not ended, openByOp
	// their number by issuer, ids every ID in issue order (evicted ones
	// are skipped and compacted away), ended the ended ones in the order
	// they ended, for eviction after KeepEnded.
	open     map[string]*Command
	openByOp map[string]int
	ids      []string
	ended    []endedRef

	// repLim limits each gateway's reports (under repMu, not mu); logLim
	// the warnings about refused reports.
	repMu  sync.Mutex
	repLim map[string]*rate.Limiter
	logLim *rate.Limiter

	onlineMu sync.Mutex
	online   map[string]bool
	wake     chan struct{}

	points chan Entry
}

// New opens the audit log, rebuilds the commands from it and returns the
// Service; Run runs its timers, Close closes the log.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: cfg.Logger, m: newMetrics(cfg.Registerer), cmds: map[string]*Command{},
		devLim: map[string]*rate.Limiter{}, opLim: map[string]*rate.Limiter{},
		open: map[string]*Command{}, openByOp: map[string]int{},
		repLim: map[string]*rate.Limiter{}, logLim: rate.NewLimiter(rate.Every(time.Second), 10),
		online: map[string]bool{}, wake: make(chan struct{}, 1), points: make(chan Entry, cfg.AuditQueue)}
	a, entries, err := openAudit(&s.cfg, func(err error) {
		s.m.auditBroken.Inc()
		s.log.Error("audit log's hash chain is broken; starting anyway (commands.audit_continue_broken)", "err", err)
	})
	if err != nil {
		return nil, err
	}
	s.audit = a
	now := s.cfg.Now()
	for i := range entries {
		s.apply(&entries[i])
		s.evict(now)
	}
	s.m.open.Set(float64(s.openCount()))
	s.log.Info("commands rebuilt from the audit log", "entries", len(entries), "commands", len(s.cmds), "open", s.openCount(), "dir", cfg.AuditDir)
	return s, nil
}

// Close closes the audit log. Nothing may be called after it.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.audit.close()
}

func (s *Service) openCount() int { return len(s.open) }

// endedRef is an ended command and when it ended.
type endedRef struct {
	id string
	at time.Time
}

// index updates the index after c's state changed at `at` from open
// (wasOpen) or not; mu is held.
func (s *Service) index(c *Command, wasOpen bool, at time.Time) {
	switch isOpen := c.State.Open(); {
	case isOpen && !wasOpen:
		s.open[c.ID] = c
		s.openByOp[c.Operator.ID]++
	case !isOpen && wasOpen:
		delete(s.open, c.ID)
		if s.openByOp[c.Operator.ID]--; s.openByOp[c.Operator.ID] <= 0 {
			delete(s.openByOp, c.Operator.ID)
		}
		s.ended = append(s.ended, endedRef{c.ID, at})
	}
}

// evict drops from memory the commands ended more than KeepEnded before
// now (the audit log keeps them); mu is held. It looks at the oldest
// ended ones only.
func (s *Service) evict(now time.Time) {
	cut := now.Add(-s.cfg.KeepEnded)
	i := 0
	for ; i < len(s.ended) && s.ended[i].at.Before(cut); i++ {
		if c := s.cmds[s.ended[i].id]; c != nil && !c.State.Open() {
			delete(s.cmds, c.ID)
		}
	}
	if i == 0 {
		return
	}
	s.ended = slices.Clone(s.ended[i:])
	if len(s.ids) > 2*len(s.cmds)+64 {
		s.ids = slices.DeleteFunc(s.ids, func(id string) bool { return s.cmds[id] == nil })
	}
}

// newID returns a time-sortable unique command ID: "cmd-", the issue's
// Unix milliseconds (13 digits; one more than the last ID's when two
// fall in one millisecond, so IDs sort in issue order) and 8 random hex
// digits (unique across instances and restarts). mu is held.
func (s *Service) newID(now time.Time) string {
	ms := max(now.UnixMilli(), s.lastMs+1)
	s.lastMs = ms
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("cmd-%013d-%s", ms, hex.EncodeToString(b))
}

// checkText checks a text field's length in characters.
func checkText(field, v string, maxLen int) *Error {
	n := utf8.RuneCountInString(strings.TrimSpace(v))
	if n == 0 || n > maxLen || !utf8.ValidString(v) {
		return fieldError(field, "expected 1 to %d characters, got %d", maxLen, n)
	}
	return nil
}

// target resolves an entity in scope; another tenant's is not found.
func (s *Service) target(scope twin.Scope, entity string) (Target, *Error) {
	t, ok := s.cfg.Lookup(entity)
	if !ok || !scope.Gateway(t.Gateway) {
		return Target{}, &Error{Status: http.StatusNotFound, Field: "entity", Msg: fmt.Sprintf("entity %q not found", entity)}
	}
	return t, nil
}

// Issue checks req from the operator opID in scope and records the
// command: awaiting approval when its point asks for one, else published
// to its gateway at once. A refusal is an *Error.
func (s *Service) Issue(ctx context.Context, scope twin.Scope, opID string, req Request) (Command, error) {
	if opID == "" {
		return Command{}, &Error{Status: http.StatusUnauthorized, Msg: "an operator token is required"}
	}
	switch {
	case req.Entity == "":
		return Command{}, fieldError("entity", "required (a site's entity ID)")
	case req.Point == "":
		return Command{}, fieldError("point", "required (a writable point of the site's device)")
	case req.Value == nil && req.Text == nil:
		return Command{}, fieldError("value", "required (a number in the point's unit; text for a text point)")
	}
	if err := checkText("reason", req.Reason, 500); err != nil {
		return Command{}, err
	}
	if err := checkText("operator", req.Operator, 80); err != nil {
		return Command{}, err
	}
	life := s.cfg.Expiry
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		switch {
		case err != nil:
			return Command{}, fieldError("expires_in", "%q: expected a duration such as 5m", req.ExpiresIn)
		case d <= 0 || d > s.cfg.MaxExpiry:
			return Command{}, fieldError("expires_in", "%s: expected more than 0 and at most %s", d, s.cfg.MaxExpiry)
		}
		life = d
	}
	t, terr := s.target(scope, req.Entity)
	if terr != nil {
		return Command{}, terr
	}
	if t.Profile == nil {
		return Command{}, fieldError("point", "device %s of gateway %s has no profile loaded; nothing of it is writable", t.Device, t.Gateway)
	}
	wp, err := t.Profile.Writable(req.Point)
	if err != nil {
		return Command{}, fieldError("point", "%v", err)
	}
	text, verr := checkWrite(wp, req)
	if verr != nil {
		return Command{}, verr
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	if n := s.openCount(); n >= s.cfg.MaxOpen {
		return Command{}, &Error{Status: http.StatusTooManyRequests, RetryAfter: s.cfg.Grace,
			Msg: fmt.Sprintf("%d commands are open, at most %d (commands.max_open); retry when some have ended", n, s.cfg.MaxOpen)}
	}
	if n := s.openByOp[opID]; n >= s.cfg.MaxOpenPerOperator {
		return Command{}, &Error{Status: http.StatusTooManyRequests, RetryAfter: s.cfg.Grace,
			Msg: fmt.Sprintf("operator %s has %d commands open, at most %d (commands.max_open_per_operator); retry when some have ended", opID, n, s.cfg.MaxOpenPerOperator)}
	}
	undo, rerr := s.spend(now, opID, t.Gateway+"/"+t.Device)
	if rerr != nil {
		return Command{}, rerr
	}
	state := Queued
	if wp.Write.Approval {
		state = AwaitingApproval
	}
	exp := now.Add(life)
	e := &Entry{At: now, Command: s.newID(now), Event: EventIssued, State: state, By: ByOperator,
		Operator: &Operator{Name: strings.TrimSpace(req.Operator), ID: opID},
		Entity:   t.Entity, Gateway: t.Gateway, Device: t.Device, Point: wp.Name, Value: req.Value, Text: text, Unit: wp.Unit,
		Reason: strings.TrimSpace(req.Reason), Expires: &exp}
	if err := s.record(e); err != nil {
		undo()
		return Command{}, err
	}
	c := s.cmds[e.Command]
	if state == Queued {
		s.sendUnlocked(ctx, c, EventPublished)
	}
	return c.clone(), nil
}

// spend takes one command from the operator's and the device's rates, or
// says how long to wait; undo gives them back.
func (s *Service) spend(now time.Time, opID, device string) (undo func(), _ *Error) {
	lim := func(m map[string]*rate.Limiter, key string, every time.Duration, burst int) *rate.Limiter {
		l := m[key]
		if l == nil {
			l = rate.NewLimiter(rate.Every(every), burst)
			m[key] = l
		}
		return l
	}
	op := lim(s.opLim, opID, s.cfg.OperatorRefill, s.cfg.OperatorBurst).ReserveN(now, 1)
	if d := op.DelayFrom(now); d > 0 {
		op.CancelAt(now)
		return nil, &Error{Status: http.StatusTooManyRequests, RetryAfter: d,
			Msg: fmt.Sprintf("operator %s has issued %d commands recently (commands.operator_rate); retry in %s", opID, s.cfg.OperatorBurst, d.Round(time.Second))}
	}
	dev := lim(s.devLim, device, s.cfg.DeviceRefill, s.cfg.DeviceBurst).ReserveN(now, 1)
	if d := dev.DelayFrom(now); d > 0 {
		dev.CancelAt(now)
		op.CancelAt(now)
		return nil, &Error{Status: http.StatusTooManyRequests, RetryAfter: d,
			Msg: fmt.Sprintf("device %s has had %d commands recently (commands.device_rate); retry in %s", device, s.cfg.DeviceBurst, d.Round(time.Second))}
	}
	return func() { dev.CancelAt(now); op.CancelAt(now) }, nil
}

// record appends e to the audit log and applies it; mu is held.
func (s *Service) record(e *Entry) error {
	if err := s.audit.append(e); err != nil {
		s.m.auditFailed.WithLabelValues("file").Inc()
		s.log.Error("audit log write failed; change refused", "command", e.Command, "event", e.Event, "err", err)
		return &Error{Status: http.StatusInternalServerError, Msg: "the audit log could not be written; nothing was changed"}
	}
	s.apply(e)
	s.m.events.WithLabelValues(e.Event).Inc()
	s.m.open.Set(float64(s.openCount()))
	if s.cfg.AuditPoints != nil {
		select {
		case s.points <- *e:
		default:
			s.m.auditDropped.Inc()
		}
	}
	s.log.Info("command "+e.Event, "command", e.Command, "state", e.State, "gateway", e.Gateway, "device", e.Device, "point", e.Point, "detail", e.Detail)
	return nil
}

// apply changes the commands by e: the one place where state changes,
// for live events and for the log read back at start alike.
func (s *Service) apply(e *Entry) {
	c := s.cmds[e.Command]
	wasOpen := c != nil && c.State.Open()
	if e.Event == EventIssued {
		if c != nil {
			return
		}
		c = &Command{ID: e.Command, Entity: e.Entity, Gateway: e.Gateway, Device: e.Device, Point: e.Point,
			Unit: e.Unit, Reason: e.Reason, Created: e.At}
		if e.Value != nil {
			c.Value = *e.Value
		}
		if e.Text != nil {
			c.Text = *e.Text
		}
		if e.Operator != nil {
			c.Operator = *e.Operator
		}
		if e.Expires != nil {
			c.Expires = *e.Expires
		}
		s.cmds[c.ID] = c
		s.ids = append(s.ids, c.ID)
	}
	if c == nil {
		return
	}
	defer s.index(c, wasOpen, e.At)
	step := Step{Status: e.Event, At: e.At, Detail: e.Detail, Operator: e.Operator}
	if e.Event == EventIssued {
		step.Detail = e.Reason
	}
	c.Steps = append(c.Steps, step)
	if e.State != "" {
		c.State = e.State
	}
	switch {
	case e.Event == EventApproved && e.Operator != nil:
		c.Approval = &Approval{Operator: *e.Operator, At: e.At}
	case e.Event == EventRejected:
		c.Detail = e.Detail
	case e.Event == EventPublished || e.Event == EventResent:
		c.lastSent, c.published = e.At, true
	case e.By == ByGateway:
		c.reported = true
		if c.endedByIngest {
			c.lateRecorded = true
		}
		if e.Readback != nil {
			v := *e.Readback
			c.Readback = &v
		}
		if e.ReadbackText != nil {
			v := *e.ReadbackText
			c.ReadbackText = &v
		}
		if wire.CommandStatus(e.Event).Final() && !c.State.Open() {
			// The gateway's final word: later reports are repeats.
			c.Detail = e.Detail
			c.endedByIngest = false
		}
	case e.By == ByIngest && !c.State.Open():
		c.endedByIngest, c.Detail = true, e.Detail
	}
}

// sendJob is a publish prepared under mu and done outside it: the
// broker may take up to the publisher's timeout, and nothing else waits
// for it.
type sendJob struct {
	c       *Command
	event   string
	topic   string
	payload []byte
}

// prepare marks c as sent now (attempted: a report of it may come from
// here on) and returns its job; mu is held.
func (s *Service) prepare(c *Command, event string) (sendJob, bool) {
	payload, err := wire.EncodeCommand(c.wire())
	if err != nil {
		s.log.Error("command cannot be encoded", "command", c.ID, "err", err)
		return sendJob{}, false
	}
	c.lastSent, c.attempted = s.cfg.Now(), true
	return sendJob{c: c, event: event, topic: s.cfg.Topics.Cmd(c.Gateway), payload: payload}, true
}

// send publishes j (mu is not held) and records the event once the
// broker has it; a failure leaves the command queued for the next
// resend.
func (s *Service) send(ctx context.Context, j sendJob) {
	if err := s.cfg.Publish(ctx, j.topic, j.payload); err != nil {
		s.log.Warn("command not published; it is sent again later", "command", j.c.ID, "gateway", j.c.Gateway, "topic", j.topic, "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordSent(j.c, j.event, "on "+j.topic)
}

// sendUnlocked publishes c from a caller holding mu: it releases mu for
// the publish and takes it again.
func (s *Service) sendUnlocked(ctx context.Context, c *Command, event string) {
	j, ok := s.prepare(c, event)
	if !ok {
		return
	}
	s.mu.Unlock()
	defer s.mu.Lock()
	s.send(ctx, j)
}

// recordSent records that the broker took c, unless that is known
// already: a report of the gateway arriving before the PUBACK records
// the publish first (HandleReport), so that the log never shows a report
// before the publish that caused it. mu is held.
func (s *Service) recordSent(c *Command, event, detail string) {
	if c.reported || !c.State.Open() || c.State == AwaitingApproval || (event == EventPublished && c.published) {
		return
	}
	_ = s.record(s.entry(c, event, Queued, ByIngest, detail))
}

// entry makes an entry about c.
func (s *Service) entry(c *Command, event string, state State, by, detail string) *Entry {
	return &Entry{At: s.cfg.Now(), Command: c.ID, Event: event, State: state, By: by,
		Gateway: c.Gateway, Device: c.Device, Point: c.Point, Detail: detail}
}

// lookupOwn returns the command id if scope sees it.
func (s *Service) lookupOwn(scope twin.Scope, id string) (*Command, *Error) {
	c := s.cmds[id]
	if c == nil || !scope.Gateway(c.Gateway) {
		return nil, &Error{Status: http.StatusNotFound, Field: "id", Msg: fmt.Sprintf("command %q not found", id)}
	}
	return c, nil
}

// awaiting returns command id of the caller's scope if it awaits
// approval. Callers hold mu.
func (s *Service) awaiting(scope twin.Scope, id string) (*Command, error) {
	c, err := s.lookupOwn(scope, id)
	if err != nil {
		return nil, err
	}
	if c.State != AwaitingApproval {
		return nil, &Error{Status: http.StatusConflict, Msg: fmt.Sprintf("command %s is %s, not awaiting approval", id, c.State)}
	}
	return c, nil
}

// Approve records a second operator's approval of a command awaiting it
// and publishes it; after its expiry the command is expired instead.
func (s *Service) Approve(ctx context.Context, scope twin.Scope, opID, id string, d Decision) (Command, error) {
	if err := checkText("operator", d.Operator, 80); err != nil {
		return Command{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.awaiting(scope, id)
	if err != nil {
		return Command{}, err
	}
	if opID == "" || opID == c.Operator.ID {
		return Command{}, &Error{Status: http.StatusConflict, Msg: "a second operator must approve (this token issued the command)"}
	}
	if !s.cfg.Now().Before(c.Expires) {
		if err := s.record(s.entry(c, EventExpired, Expired, ByIngest, detailNotApproved)); err != nil {
			return Command{}, err
		}
		return c.clone(), nil
	}
	e := s.entry(c, EventApproved, Queued, ByOperator, strings.TrimSpace(d.Reason))
	e.Operator = &Operator{Name: strings.TrimSpace(d.Operator), ID: opID}
	if err := s.record(e); err != nil {
		return Command{}, err
	}
	s.sendUnlocked(ctx, c, EventPublished)
	return c.clone(), nil
}

// Reject records an operator's rejection of a command awaiting approval.
func (s *Service) Reject(_ context.Context, scope twin.Scope, opID, id string, d Decision) (Command, error) {
	if err := checkText("operator", d.Operator, 80); err != nil {
		return Command{}, err
	}
	if err := checkText("reason", d.Reason, 500); err != nil {
		return Command{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.awaiting(scope, id)
	if err != nil {
		return Command{}, err
	}
	e := s.entry(c, EventRejected, Rejected, ByOperator, strings.TrimSpace(d.Reason))
	e.Operator = &Operator{Name: strings.TrimSpace(d.Operator), ID: opID}
	if err := s.record(e); err != nil {
		return Command{}, err
	}
	return c.clone(), nil
}

// Get returns a command scope sees.
func (s *Service) Get(scope twin.Scope, id string) (Command, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.lookupOwn(scope, id)
	if err != nil {
		return Command{}, false
	}
	return c.clone(), true
}

// List returns the commands scope sees, newest first: open ones only
// unless all, of entity only when not empty, at most limit. It looks at
// the open commands, or walks the IDs from the newest until it has
// limit: never a clone of every command.
func (s *Service) List(scope twin.Scope, all bool, entity string, limit int) []Command {
	match := func(c *Command) bool {
		return scope.Gateway(c.Gateway) && (entity == "" || c.Entity == entity)
	}
	var out []Command
	s.mu.Lock()
	if all {
		for i := len(s.ids) - 1; i >= 0 && len(out) < limit; i-- {
			if c := s.cmds[s.ids[i]]; c != nil && match(c) {
				out = append(out, c.clone())
			}
		}
	} else {
		open := make([]*Command, 0, len(s.open))
		for _, c := range s.open {
			if match(c) {
				open = append(open, c)
			}
		}
		slices.SortFunc(open, func(a, b *Command) int { return strings.Compare(b.ID, a.ID) })
		for _, c := range open[:min(limit, len(open))] {
			out = append(out, c.clone())
		}
	}
	s.mu.Unlock()
	return out
}

// Audit returns the entries of the log at or after since about gateways
// scope sees, in order, at most limit. The files are opened under mu (a
// snapshot: the current file up to its size then) and read outside it.
func (s *Service) Audit(scope twin.Scope, since time.Time, limit int) ([]Entry, error) {
	s.mu.Lock()
	snap, err := s.audit.snapshot()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var out []Entry
	err = snap.read(func(e *Entry) bool {
		if !e.At.Before(since) && scope.Gateway(e.Gateway) {
			out = append(out, *e)
		}
		return len(out) < limit
	})
	return out, err
}

// HandleReport takes a gateway's report published on topic. Anything
// wrong is logged and counted, never a panic.
func (s *Service) HandleReport(topic string, payload []byte) {
	gw, kind, err := s.cfg.Topics.Gateway(topic)
	if err != nil || kind != "report" {
		s.refuse("malformed", "report on an unexpected topic", "topic", topic)
		return
	}
	r, err := wire.DecodeReport(payload)
	if err != nil {
		s.refuse("malformed", "malformed report", "gateway", gw, "err", err)
		return
	}
	if r.Gateway != gw {
		s.refuse("wrong_gateway", "report names another gateway than its topic's", "gateway", gw, "report_gateway", r.Gateway, "command", r.ID)
		return
	}
	if !s.allowReport(gw) {
		s.refuse("rate_limited", "gateway reports faster than commands.report_rate allows", "gateway", gw, "command", r.ID)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cmds[r.ID]
	if c == nil || !c.published && !c.attempted {
		// Unknown, evicted, or never sent (awaiting approval, rejected,
		// expired before approval): nothing of the gateway can end it.
		s.refuse("unknown_command", "report of a command ingest did not send", "gateway", gw, "command", r.ID)
		return
	}
	if c.Gateway != gw {
		s.refuse("wrong_gateway", "report of another gateway's command", "gateway", gw, "command_gateway", c.Gateway, "command", r.ID)
		return
	}
	status := State(r.Status)
	next := c.State
	detail := r.Detail
	switch {
	case c.State.Open() && r.Status.Final():
		next = status
	case c.State == Queued || c.State == Received && status == Sent:
		next = status
	case c.endedByIngest && r.Status.Final() && (status != c.State || !c.lateRecorded):
		// The gateway's final word after ingest gave up: it stands.
		next = status
		detail = strings.TrimSpace(detail + " (" + detailLate + ")")
	case c.endedByIngest && !c.lateRecorded:
		detail = strings.TrimSpace(detail + " (late)")
	default:
		// A repeat, a step behind the state, or a late step past the
		// first: recording it would change nothing but the log's size.
		s.log.Debug("report that changes nothing (a repeat)", "command", r.ID, "gateway", gw, "status", r.Status, "state", c.State, "repeat", r.Repeat)
		return
	}
	if !c.published {
		// The gateway has it, so the broker took it: its PUBACK is on the
		// way (send records nothing more then).
		s.recordSent(c, EventPublished, "on "+s.cfg.Topics.Cmd(c.Gateway)+" (the gateway's report came before the broker's acknowledgement)")
	}
	e := s.entry(c, string(r.Status), next, ByGateway, detail)
	e.Readback, e.ReadbackText = r.Readback, r.ReadbackText
	_ = s.record(e)
}

// allowReport takes one report from gw's rate (without mu: a flooding
// gateway does not queue on the lock the API needs).
func (s *Service) allowReport(gw string) bool {
	s.repMu.Lock()
	defer s.repMu.Unlock()
	l := s.repLim[gw]
	if l == nil {
		if len(s.repLim) >= 100000 {
			clear(s.repLim) // a bound on topics never seen again
		}
		l = rate.NewLimiter(rate.Every(s.cfg.ReportRefill), s.cfg.ReportBurst)
		s.repLim[gw] = l
	}
	return l.AllowN(s.cfg.Now(), 1)
}

func (s *Service) refuse(reason, msg string, args ...any) {
	s.m.refused.WithLabelValues(reason).Inc()
	if !s.logLim.Allow() {
		return // counted; a flood does not flood the log too
	}
	s.log.Warn(msg+"; report refused", append(args, "reason", reason)...)
}

// GatewayOnline notes that a gateway came online: Run publishes its
// queued commands again. It does not block.
func (s *Service) GatewayOnline(gateway string) {
	s.onlineMu.Lock()
	s.online[gateway] = true
	s.onlineMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// OnStatus is GatewayOnline for the MQTT intake's status callback.
func (s *Service) OnStatus(st wire.Status) {
	if st.State == wire.StateOnline {
		s.GatewayOnline(st.Gateway)
	}
}

// Run expires commands, publishes queued ones again (every Resend, and
// when their gateway comes online) and writes the audit to AuditPoints,
// until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	done := make(chan struct{})
	if s.cfg.AuditPoints != nil {
		go func() { defer close(done); s.writePoints(ctx) }()
	} else {
		close(done)
	}
	defer func() { <-done }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-s.wake:
		}
		s.sweep(ctx)
	}
}

// sweep does what Run does on each tick.
func (s *Service) sweep(ctx context.Context) {
	s.onlineMu.Lock()
	online := s.online
	s.online = map[string]bool{}
	s.onlineMu.Unlock()

	s.mu.Lock()
	now := s.cfg.Now()
	s.evict(now)
	ids := make([]string, 0, len(s.open))
	for id := range s.open {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var jobs []sendJob
	for _, id := range ids {
		c := s.cmds[id]
		switch {
		case c.State == AwaitingApproval && !now.Before(c.Expires):
			_ = s.record(s.entry(c, EventExpired, Expired, ByIngest, detailNotApproved))
		case c.State == Queued && !c.reported && !now.Before(c.Expires.Add(s.cfg.Grace)):
			// No report at all: the gateway never started it, or starts
			// it no more (it refuses a command past its expiry).
			_ = s.record(s.entry(c, EventExpired, Expired, ByIngest, detailNoReport))
		case c.reported && c.State.Open() && !now.Before(c.Expires.Add(s.cfg.FinalWait)):
			// Received or sent: the write may have been made. Only the
			// gateway can say; past FinalWait ingest stops waiting.
			_ = s.record(s.entry(c, string(wire.StatusFailed), Failed, ByIngest, detailNoFinal))
		case c.State == Queued && !c.reported && now.Before(c.Expires) &&
			(online[c.Gateway] || now.Sub(c.lastSent) >= s.cfg.Resend):
			event := EventResent
			if !c.published {
				event = EventPublished
			}
			if j, ok := s.prepare(c, event); ok {
				jobs = append(jobs, j)
			}
		}
	}
	s.mu.Unlock()
	for _, j := range jobs {
		if ctx.Err() != nil {
			return
		}
		s.send(ctx, j)
	}
}

// writePoints writes the audit entries to AuditPoints, in batches, with
// retries; entries that still fail are counted and dropped (the file has
// them).
func (s *Service) writePoints(ctx context.Context) {
	for {
		var batch []Entry
		select {
		case <-ctx.Done():
			return
		case e := <-s.points:
			batch = append(batch, e)
		}
		for len(batch) < 500 {
			select {
			case e := <-s.points:
				batch = append(batch, e)
				continue
			default:
			}
			break
		}
		for attempt := 0; ; attempt++ {
			err := s.cfg.AuditPoints.Write(ctx, batch)
			if err == nil {
				break
			}
			s.m.auditFailed.WithLabelValues("influx").Inc()
			if ctx.Err() != nil || attempt >= defaultAuditMaxRetries {
				s.m.auditDropped.Add(float64(len(batch)))
				s.log.Error("audit entries not written to InfluxDB; the audit file keeps them", "entries", len(batch), "err", err)
				break
			}
			wait := min(s.cfg.AuditRetryBase<<attempt, s.cfg.AuditRetryMax)
			s.log.Warn("audit entries not written to InfluxDB; retrying", "entries", len(batch), "retry_in", wait, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
	}
}

// errorOf returns err as an *Error (a 500 for others).
func errorOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Msg: err.Error()}
}
