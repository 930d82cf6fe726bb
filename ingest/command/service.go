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
	detailLate        = "reported after ingest had marked it expired; the gateway's report stands"
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
	Entity    string   `json:"entity"`
	Point     string   `json:"point"`
	Value     *float64 `json:"value"`
	Reason    string   `json:"reason"`
	Operator  string   `json:"operator"`
	ExpiresIn string   `json:"expires_in"`
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
		online: map[string]bool{}, wake: make(chan struct{}, 1), points: make(chan Entry, cfg.AuditQueue)}
	a, entries, err := openAudit(&s.cfg, func(err error) {
		s.m.auditBroken.Inc()
		s.log.Error("audit log's hash chain is broken; starting anyway (commands.audit_continue_broken)", "err", err)
	})
	if err != nil {
		return nil, err
	}
	s.audit = a
	for i := range entries {
		s.apply(&entries[i])
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

func (s *Service) openCount() int {
	n := 0
	for _, c := range s.cmds {
		if c.State.Open() {
			n++
		}
	}
	return n
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
	case req.Value == nil:
		return Command{}, fieldError("value", "required (a number in the point's unit)")
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
	if err := wp.Write.Check(*req.Value, wp.Unit); err != nil {
		return Command{}, &Error{Status: http.StatusBadRequest, Field: "value", Msg: err.Error()}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	if n := s.openCount(); n >= s.cfg.MaxOpen {
		return Command{}, &Error{Status: http.StatusTooManyRequests, RetryAfter: s.cfg.Grace,
			Msg: fmt.Sprintf("%d commands are open, at most %d (commands.max_open); retry when some have ended", n, s.cfg.MaxOpen)}
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
		Entity:   t.Entity, Gateway: t.Gateway, Device: t.Device, Point: wp.Name, Value: req.Value, Unit: wp.Unit,
		Reason: strings.TrimSpace(req.Reason), Expires: &exp}
	if err := s.record(e); err != nil {
		undo()
		return Command{}, err
	}
	c := s.cmds[e.Command]
	if state == Queued {
		s.publish(ctx, c, EventPublished)
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
	if e.Event == EventIssued {
		if c != nil {
			return
		}
		c = &Command{ID: e.Command, Entity: e.Entity, Gateway: e.Gateway, Device: e.Device, Point: e.Point,
			Unit: e.Unit, Reason: e.Reason, Created: e.At}
		if e.Value != nil {
			c.Value = *e.Value
		}
		if e.Operator != nil {
			c.Operator = *e.Operator
		}
		if e.Expires != nil {
			c.Expires = *e.Expires
		}
		s.cmds[c.ID] = c
	}
	if c == nil {
		return
	}
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
		if e.Readback != nil {
			v := *e.Readback
			c.Readback = &v
		}
		if wire.CommandStatus(e.Event).Final() && !c.State.Open() {
			// The gateway's final word: later reports are repeats.
			c.Detail = e.Detail
			c.expiredByIngest = false
		}
	case e.Event == EventExpired && e.By == ByIngest:
		c.expiredByIngest, c.Detail = true, e.Detail
	}
}

// publish sends c to its gateway and records event (published or
// resent) once the broker has it; a failure leaves it queued for the
// next resend. mu is held.
func (s *Service) publish(ctx context.Context, c *Command, event string) {
	now := s.cfg.Now()
	c.lastSent = now
	payload, err := wire.EncodeCommand(c.wire())
	if err != nil {
		s.log.Error("command cannot be encoded", "command", c.ID, "err", err)
		return
	}
	topic := s.cfg.Topics.Cmd(c.Gateway)
	if err := s.cfg.Publish(ctx, topic, payload); err != nil {
		s.log.Warn("command not published; it is sent again later", "command", c.ID, "gateway", c.Gateway, "topic", topic, "err", err)
		return
	}
	_ = s.record(s.entry(c, event, Queued, ByIngest, "on "+topic))
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

// Approve records a second operator's approval of a command awaiting it
// and publishes it; after its expiry the command is expired instead.
func (s *Service) Approve(ctx context.Context, scope twin.Scope, opID, id string, d Decision) (Command, error) {
	if err := checkText("operator", d.Operator, 80); err != nil {
		return Command{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.lookupOwn(scope, id)
	if err != nil {
		return Command{}, err
	}
	if c.State != AwaitingApproval {
		return Command{}, &Error{Status: http.StatusConflict, Msg: fmt.Sprintf("command %s is %s, not awaiting approval", id, c.State)}
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
	s.publish(ctx, c, EventPublished)
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
	c, err := s.lookupOwn(scope, id)
	if err != nil {
		return Command{}, err
	}
	if c.State != AwaitingApproval {
		return Command{}, &Error{Status: http.StatusConflict, Msg: fmt.Sprintf("command %s is %s, not awaiting approval", id, c.State)}
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
// unless all, of entity only when not empty, at most limit.
func (s *Service) List(scope twin.Scope, all bool, entity string, limit int) []Command {
	s.mu.Lock()
	var out []Command
	for _, c := range s.cmds {
		if scope.Gateway(c.Gateway) && (all || c.State.Open()) && (entity == "" || c.Entity == entity) {
			out = append(out, c.clone())
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Command) int { return strings.Compare(b.ID, a.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Audit returns the entries of the log at or after since about gateways
// scope sees, in order, at most limit.
func (s *Service) Audit(scope twin.Scope, since time.Time, limit int) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Entry
	err := s.audit.read(func(e *Entry) bool {
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
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cmds[r.ID]
	if c == nil || c.State == AwaitingApproval || c.State == Rejected {
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
	case c.State.Open():
		if c.State == Queued || c.State == Received && status == Sent {
			next = status
		}
	case c.expiredByIngest && r.Status.Final() && status != Expired:
		next = status
		detail = strings.TrimSpace(detail + " (" + detailLate + ")")
	case c.expiredByIngest:
		detail = strings.TrimSpace(detail + " (late)")
	default:
		s.log.Debug("report of an ended command (a repeat)", "command", r.ID, "gateway", gw, "status", r.Status, "repeat", r.Repeat)
		return
	}
	e := s.entry(c, string(r.Status), next, ByGateway, detail)
	e.Readback = r.Readback
	_ = s.record(e)
}

func (s *Service) refuse(reason, msg string, args ...any) {
	s.m.refused.WithLabelValues(reason).Inc()
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
	defer s.mu.Unlock()
	now := s.cfg.Now()
	ids := make([]string, 0, len(s.cmds))
	for id, c := range s.cmds {
		if c.State.Open() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		c := s.cmds[id]
		switch {
		case c.State == AwaitingApproval && !now.Before(c.Expires):
			_ = s.record(s.entry(c, EventExpired, Expired, ByIngest, detailNotApproved))
		case c.State != AwaitingApproval && !now.Before(c.Expires.Add(s.cfg.Grace)):
			_ = s.record(s.entry(c, EventExpired, Expired, ByIngest, detailNoReport))
		case c.State == Queued && !c.reported && now.Before(c.Expires) &&
			(online[c.Gateway] || now.Sub(c.lastSent) >= s.cfg.Resend):
			event := EventResent
			if !c.published {
				event = EventPublished
			}
			s.publish(ctx, c, event)
		}
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
