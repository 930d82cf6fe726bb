package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// Interrupted is the detail of the failed report of a command found
// started but not ended after a restart.
const Interrupted = "interrupted by a restart; not written again"

// Busy is the detail of the failed report of a command beyond MaxQueued.
const Busy = "gateway busy: too many commands queued"

// recentMax is how many commands Recent lists.
const recentMax = 20

// entry is one command ID the executor knows. Guarded by Executor.mu.
type entry struct {
	id, device, point string
	value             float64
	text              string // a text command's text (as normalized by its rules)
	expires           time.Time
	started           bool         // journaled as started (durable)
	final             *wire.Report // the final report (durable once set)
	published         bool         // the broker acknowledged the final report
	startAt, pubAt    time.Time    // when the start and published records were appended

	cmd     *wire.Command // while queued or running
	running bool
	queued  bool // in the publish queue (final report)
	at      time.Time
	status  wire.CommandStatus // last step, for Recent
	detail  string
}

// idle reports whether e is neither queued nor running (compaction may
// drop it once it is old enough and its final report was published).
func (e *entry) idle() bool { return e.cmd == nil }

// Executor runs operators' commands on the gateway's devices: see the
// package doc. Handle and Republish may be called from any goroutine, and
// before Run; Run may be called once.
type Executor struct {
	cfg   Config
	log   *slog.Logger
	m     *metrics
	now   func() time.Time
	queue int // MaxQueued

	mu      sync.Mutex
	j       *journal
	es      map[string]*entry
	order   []string            // IDs by first arrival, for Recent and compaction
	pending map[string][]*entry // device -> commands waiting, in arrival order
	busyDev map[string]bool     // a worker runs for the device
	waiting int                 // commands queued or running
	runCtx  context.Context     // set by Run
	wg      sync.WaitGroup      // workers
	pubs    []*wire.Report      // reports to publish, in order
	pubWake chan struct{}
	// unreadable, when set, is why the journal could not be read: every
	// command is refused with it, and j is nil.
	unreadable string
}

// JournalError says why the command journal could not be read at start
// ("command journal unreadable: <path>: <reason>"), or "" when it was:
// while it is set every command is refused (the agent's /status shows it).
func (e *Executor) JournalError() string { return e.unreadable }

// New checks cfg, opens (and compacts) the journal, and turns every
// command found started without a final report into a failed report
// (Interrupted), journaled, to be published when Run starts.
func New(cfg Config) (*Executor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.MaxQueued == 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("command executor: %w", err)
	}
	e := &Executor{cfg: cfg, log: cfg.Logger, m: m, now: cfg.Clock, queue: cfg.MaxQueued,
		pending: map[string][]*entry{}, busyDev: map[string]bool{}, pubWake: make(chan struct{}, 1)}
	j, ld, err := openJournal(filepath.Join(cfg.Dir, JournalFile), e.now)
	if errors.Is(err, errUnreadable) {
		// Never guess: the IDs it holds might be lost, and a command
		// written twice is worse than one refused. Readings go on.
		e.unreadable = err.Error()
		m.unreadable.Set(1)
		e.es = map[string]*entry{}
		e.log.Error("every command refused until the journal is repaired or removed by a technician", "err", err)
		return e, nil
	}
	if err != nil {
		return nil, err
	}
	es, order := ld.es, ld.order
	e.j, e.es, e.order = j, es, order
	if ld.bad > 0 {
		m.badLines.Add(float64(ld.bad))
		e.log.Warn("command journal lines skipped (torn by a crash or corrupt)", "file", j.path, "lines", ld.bad)
	}
	e.dropped(ld.dropped)
	if ld.compact != nil {
		e.log.Error("command journal not compacted; appending to the old file, compaction tried again later", "err", ld.compact)
	}
	for _, id := range order {
		en := es[id]
		en.status, en.at = wire.StatusReceived, en.expires
		if en.final != nil {
			en.status, en.detail, en.at = en.final.Status, en.final.Detail, en.final.At
			continue
		}
		if !en.started {
			continue
		}
		e.log.Warn("command interrupted by a restart; reported failed, not written again", "id", id, "device", en.device, "point", en.point)
		if err := e.finish(en, wire.StatusFailed, nil, Interrupted); err != nil {
			_ = j.close()
			return nil, err
		}
	}
	return e, nil
}

// SetDevices replaces the devices commands may write (the agent's
// reload). Commands queued for a device no longer there are refused when
// their turn comes; a write in progress finishes.
func (e *Executor) SetDevices(devs map[string]Device) error {
	c := e.cfg
	c.Devices = devs
	if err := c.Validate(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cfg.Devices = devs
	return nil
}

// Handle takes a command's payload as it arrived (uplink.Config.OnCommand).
// It never blocks on a device or the network: the command is answered at
// once (repeat, refused, expired, busy) or queued for its device.
func (e *Executor) Handle(payload []byte) {
	cmd, err := wire.DecodeCommand(payload)
	if err != nil {
		e.malformed(payload, err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if en := e.es[cmd.ID]; en != nil {
		e.repeat(en)
		return
	}
	en := &entry{id: cmd.ID, device: cmd.Device, point: cmd.Point, value: cmd.Value, text: cmd.Text, expires: cmd.Expires,
		at: e.now().UTC(), status: wire.StatusReceived}
	e.es[cmd.ID] = en
	e.order = append(e.order, cmd.ID)
	log := e.log.With("id", cmd.ID, "device", cmd.Device, "point", cmd.Point, "value", cmd.Value, "text", cmd.Text)
	if e.unreadable != "" {
		log.Error("command refused: the command journal is unreadable", "reason", e.unreadable)
		e.finishLogged(en, wire.StatusRefused, nil, e.unreadable)
		return
	}
	if e.now().After(cmd.Expires) {
		log.Warn("command expired before it reached the gateway", "expires", cmd.Expires)
		e.finishLogged(en, wire.StatusExpired, nil, "expired at "+cmd.Expires.UTC().Format(time.RFC3339)+" before the gateway received it")
		return
	}
	if reason := e.clockBehind(cmd); reason != "" {
		log.Error("command refused: the gateway's clock is behind", "reason", reason, "issued", cmd.Issued)
		e.finishLogged(en, wire.StatusRefused, nil, reason)
		return
	}
	if reason := e.refusal(cmd); reason != "" {
		log.Warn("command refused", "reason", reason)
		e.finishLogged(en, wire.StatusRefused, nil, reason)
		return
	}
	if e.waiting >= e.queue {
		log.Warn("command refused: gateway busy", "queued", e.waiting)
		e.finishLogged(en, wire.StatusFailed, nil, Busy)
		return
	}
	en.cmd = cmd
	e.waiting++
	e.m.inFlight.Set(float64(e.waiting))
	e.pending[cmd.Device] = append(e.pending[cmd.Device], en)
	log.Info("command queued")
	e.startWorker(cmd.Device)
}

// clockBehind says why the gateway's clock cannot judge cmd's expiry (it
// is more than ClockSkew behind the command's issue time: a command that
// expired by the real time would look fresh), or "".
func (e *Executor) clockBehind(cmd *wire.Command) string {
	now := e.now()
	if !now.Before(cmd.Issued.Add(-e.cfg.ClockSkew)) {
		return ""
	}
	return fmt.Sprintf("gateway clock is %s behind the command's issue time; not written", cmd.Issued.Sub(now).Round(time.Second))
}

// refusal says why cmd does not fit its device's profile, or "".
func (e *Executor) refusal(cmd *wire.Command) string {
	d, ok := e.cfg.Devices[cmd.Device]
	if !ok {
		return fmt.Sprintf("device %s is not on gateway %s", cmd.Device, e.cfg.Gateway)
	}
	wp, err := d.Profile.Writable(cmd.Point)
	if err != nil {
		return err.Error()
	}
	if wp.Write.IsText() || cmd.Text != "" {
		// A text for a numeric point, or a text point's text: CheckText
		// says which rule it breaks.
		if err := wp.Write.CheckText(wp.Write.NormalizeText(cmd.Text)); err != nil {
			return err.Error()
		}
	} else if err := wp.Write.Check(cmd.Value, wp.Unit); err != nil {
		return err.Error()
	}
	if d.Writer == nil {
		return fmt.Sprintf("device %s: its source cannot write", cmd.Device)
	}
	if _, ok := d.Writer.(source.TextWriter); wp.Write.IsText() && !ok {
		return fmt.Sprintf("device %s: its source cannot write text", cmd.Device)
	}
	return ""
}

// malformed logs and counts a payload that is not a command; when its ID
// can be read, the command is refused with the reason (and kept, so a
// resend is answered alike).
func (e *Executor) malformed(payload []byte, err error) {
	e.m.commands.WithLabelValues("malformed").Inc()
	var probe struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(payload, &probe)
	e.log.Warn("command payload refused", "reason", err.Error(), "bytes", len(payload), "id", probe.ID)
	if !wire.ValidCommandID(probe.ID) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if en := e.es[probe.ID]; en != nil {
		e.repeat(en)
		return
	}
	en := &entry{id: probe.ID, at: e.now().UTC(), expires: e.now().UTC()}
	e.es[probe.ID] = en
	e.order = append(e.order, probe.ID)
	e.finishLogged(en, wire.StatusRefused, nil, "malformed command: "+err.Error())
}

// repeat answers a command ID seen before: the kept final report again,
// marked Repeat; nothing while the command is still queued or running.
// Caller holds mu.
func (e *Executor) repeat(en *entry) {
	e.m.commands.WithLabelValues("repeat").Inc()
	if en.final == nil {
		e.log.Info("command delivered again while in progress; ignored", "id", en.id)
		return
	}
	r := *en.final
	r.Repeat = true
	e.log.Info("command delivered again; answered with its kept report", "id", en.id, "status", r.Status)
	e.publish(&r)
}

// finishLogged is finish for callers that cannot return the error: a
// journal that cannot be written is logged (the report still goes out).
// Caller holds mu.
func (e *Executor) finishLogged(en *entry, st wire.CommandStatus, readback *float64, detail string) {
	if err := e.finish(en, st, readback, detail); err != nil {
		e.log.Error("command journal not written", "id", en.id, "err", err)
	}
}

// finish ends en with a final report: journaled (fsync) first, then
// queued for publishing. Caller holds mu (or owns e, in New).
func (e *Executor) finish(en *entry, st wire.CommandStatus, readback *float64, detail string) error {
	return e.end(en, &wire.Report{ID: en.id, Gateway: e.cfg.Gateway, Status: st, Readback: readback, Detail: clip(detail), At: e.now().UTC()})
}

// end ends en with the final report r (finish). Caller holds mu.
func (e *Executor) end(en *entry, r *wire.Report) error {
	st := r.Status
	en.final, en.status, en.detail, en.at = r, st, r.Detail, r.At
	e.m.commands.WithLabelValues(string(st)).Inc()
	if e.j == nil { // unreadable journal: nothing is kept on disk
		e.publish(r)
		en.queued = true
		return nil
	}
	err := e.j.append(&record{Kind: recFinal, ID: en.id, Device: en.device, Point: en.point, Value: en.value, Text: en.text, Expires: en.expires, Report: r}, true)
	e.publish(r)
	en.queued = true
	if e.j.due() {
		dropped, cerr := e.j.compact(e.es, &e.order)
		e.dropped(dropped)
		if cerr != nil {
			e.log.Error("command journal not compacted; compaction tried again later", "err", cerr)
		}
	}
	return err
}

// dropped counts and logs n unpublished final reports dropped by
// MaxUnpublished.
func (e *Executor) dropped(n int) {
	if n == 0 {
		return
	}
	e.m.dropped.Add(float64(n))
	e.log.Error("command journal: unpublished final reports dropped (more than the bound kept)", "dropped", n, "bound", MaxUnpublished)
}

// publish queues r for the publisher. Caller holds mu.
func (e *Executor) publish(r *wire.Report) {
	e.pubs = append(e.pubs, r)
	select {
	case e.pubWake <- struct{}{}:
	default:
	}
}

// Republish queues again every final report the broker has not
// acknowledged (uplink.Config.OnConnect calls it after a reconnect).
func (e *Executor) Republish() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range e.order {
		if en := e.es[id]; en.final != nil && !en.published && !en.queued {
			en.queued = true
			e.publish(en.final)
		}
	}
}

// Run publishes reports and runs the queued commands until ctx ends; it
// then waits for the writes in progress (their ctx ended with it) and
// closes the journal. It returns nil.
func (e *Executor) Run(ctx context.Context) error {
	e.mu.Lock()
	e.runCtx = ctx
	for dev := range e.pending {
		e.startWorker(dev)
	}
	e.mu.Unlock()
	e.Republish()
	e.publisher(ctx)
	e.wg.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.runCtx = nil
	if e.j == nil {
		return nil
	}
	if err := e.j.close(); err != nil {
		e.log.Warn("command journal close", "err", err)
	}
	return nil
}

// publisher publishes queued reports in order until ctx ends. A final
// report the broker acknowledged is journaled as published; one that
// failed waits for Republish.
func (e *Executor) publisher(ctx context.Context) {
	for {
		e.mu.Lock()
		var r *wire.Report
		if len(e.pubs) > 0 {
			r = e.pubs[0]
			e.pubs = e.pubs[1:]
		}
		e.mu.Unlock()
		if r == nil {
			select {
			case <-ctx.Done():
				return
			case <-e.pubWake:
				continue
			}
		}
		err := e.cfg.Report(ctx, r)
		if ctx.Err() != nil {
			return
		}
		e.mu.Lock()
		en := e.es[r.ID]
		if en != nil && r.Status.Final() && !r.Repeat && en.final == r {
			en.queued = false
			if err == nil && !en.published {
				en.published = true
				rec := &record{Kind: recPublished, ID: r.ID}
				if e.j != nil { // nil: unreadable, nothing kept
					if jerr := e.j.append(rec, false); jerr != nil {
						e.log.Warn("command journal: published not recorded", "id", r.ID, "err", jerr)
					}
				}
				en.pubAt = rec.At
			}
		}
		e.mu.Unlock()
		if err != nil {
			e.log.Warn("command report not published; again after the next connection", "id", r.ID, "status", r.Status, "err", err)
		}
	}
}

// startWorker starts the device's worker if Run runs and none does.
// Caller holds mu.
func (e *Executor) startWorker(dev string) {
	if e.runCtx == nil || e.busyDev[dev] || len(e.pending[dev]) == 0 {
		return
	}
	e.busyDev[dev] = true
	ctx := e.runCtx
	e.wg.Go(func() { e.worker(ctx, dev) })
}

// worker runs the device's commands one at a time, in arrival order.
func (e *Executor) worker(ctx context.Context, dev string) {
	for {
		e.mu.Lock()
		q := e.pending[dev]
		if len(q) == 0 || ctx.Err() != nil {
			e.busyDev[dev] = false
			e.mu.Unlock()
			return
		}
		en := q[0]
		e.pending[dev] = q[1:]
		e.mu.Unlock()
		e.run(ctx, en)
		e.mu.Lock()
		en.cmd, en.running = nil, false
		e.waiting--
		e.m.inFlight.Set(float64(e.waiting))
		e.mu.Unlock()
	}
}

// run executes one queued command: expiry checked again, the ID journaled
// as started (fsync) before the write, received reported, the write and
// its read-back, the final report journaled and published.
func (e *Executor) run(ctx context.Context, en *entry) {
	cmd := en.cmd
	log := e.log.With("id", cmd.ID, "device", cmd.Device, "point", cmd.Point, "value", cmd.Value, "text", cmd.Text)
	e.mu.Lock()
	if e.now().After(cmd.Expires) {
		log.Warn("command expired while queued", "expires", cmd.Expires)
		e.finishLogged(en, wire.StatusExpired, nil, "expired at "+cmd.Expires.UTC().Format(time.RFC3339)+" while queued behind other commands")
		e.mu.Unlock()
		return
	}
	// Checked again: the devices may have changed (SetDevices) while the
	// command was queued.
	d := e.cfg.Devices[cmd.Device]
	if reason := e.refusal(cmd); reason != "" {
		log.Warn("command refused", "reason", reason)
		e.finishLogged(en, wire.StatusRefused, nil, reason)
		e.mu.Unlock()
		return
	}
	wp, _ := d.Profile.Writable(cmd.Point) // checked by refusal
	start := &record{Kind: recStart, ID: en.id, Device: en.device, Point: en.point, Value: en.value, Text: en.text, Expires: en.expires}
	err := e.j.append(start, true)
	en.startAt = start.At
	if err != nil {
		log.Error("command not written: its ID could not be journaled", "err", err)
		e.finishLogged(en, wire.StatusFailed, nil, "not written: the gateway could not record the command ("+err.Error()+")")
		e.mu.Unlock()
		return
	}
	en.started, en.running, en.status, en.at = true, true, wire.StatusReceived, e.now().UTC()
	e.publish(&wire.Report{ID: en.id, Gateway: e.cfg.Gateway, Status: wire.StatusReceived, At: en.at})
	e.mu.Unlock()

	// A budget, not a deadline: the gateway's clock may step, the
	// context's timer runs on the monotonic clock.
	budget := cmd.Expires.Sub(e.now())
	if d.Timeout > 0 {
		budget = 3*d.Timeout + wp.Write.Settle.D()
	}
	wctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	req := source.WriteRequest{Device: cmd.Device, Point: cmd.Point, Value: cmd.Value,
		Rules: wp.Write, Expires: cmd.Expires, Sent: func(detail string) { e.sent(en, detail) }}
	if wp.Write.IsText() {
		req.Text = wp.Write.NormalizeText(cmd.Text)
		rb, readable, err := d.Writer.(source.TextWriter).WriteText(wctx, req) // checked by refusal
		cancel()
		e.mu.Lock()
		defer e.mu.Unlock()
		e.textResult(log, en, req.Text, rb, readable, err)
		return
	}
	readback, err := d.Writer.WritePoint(wctx, req)
	cancel()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failed(log, en, err) {
		return
	}
	switch {
	case !wp.Write.Applied(cmd.Value, readback):
		log.Warn("command read back differs", "readback", readback)
		e.finishLogged(en, wire.StatusFailed, &readback, "read back "+fmtValue(readback)+", wrote "+fmtValue(cmd.Value))
	default:
		log.Info("command applied", "readback", readback)
		e.finishLogged(en, wire.StatusApplied, &readback, "")
	}
}

// failed ends en when its write returned an error (expired before it was
// sent, or failed) and reports whether it did. Caller holds mu.
func (e *Executor) failed(log *slog.Logger, en *entry, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, source.ErrExpired):
		log.Warn("command expired while waiting for its device's line; not written", "expires", en.expires)
		e.finishLogged(en, wire.StatusExpired, nil, "expired at "+en.expires.UTC().Format(time.RFC3339)+" while waiting for the device's line; not written")
	default:
		log.Warn("command failed", "err", err)
		e.finishLogged(en, wire.StatusFailed, nil, err.Error())
	}
	return true
}

// textResult ends a text command: applied when the text read back is the
// one written (trailing blanks aside: a poll trims them), or on the
// device's acknowledgement when it cannot be read back (the detail says
// so); failed when it differs. Caller holds mu.
func (e *Executor) textResult(log *slog.Logger, en *entry, written, readback string, readable bool, err error) {
	if e.failed(log, en, err) {
		return
	}
	r := &wire.Report{ID: en.id, Gateway: e.cfg.Gateway, Status: wire.StatusApplied, At: e.now().UTC()}
	switch {
	case !readable:
		log.Info("command applied (acknowledged; no read-back)")
		r.Detail = profile.NoReadbackDetail
	case strings.TrimRight(readback, " ") != strings.TrimRight(written, " "):
		log.Warn("command read back differs", "readback", readback)
		r.Status, r.ReadbackText = wire.StatusFailed, &readback
		r.Detail = clip(fmt.Sprintf("read back %q, wrote %q", readback, written))
	default:
		log.Info("command applied", "readback", readback)
		r.ReadbackText = &readback
	}
	if err := e.end(en, r); err != nil {
		e.log.Error("command journal not written", "id", en.id, "err", err)
	}
}

// sent reports the sent step of an asynchronous write (a downlink queued
// at the network server).
func (e *Executor) sent(en *entry, detail string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	en.status, en.detail, en.at = wire.StatusSent, clip(detail), e.now().UTC()
	e.publish(&wire.Report{ID: en.id, Gateway: e.cfg.Gateway, Status: wire.StatusSent, Detail: en.detail, At: en.at})
}

// Entry is one command as Recent lists it (the agent's /status).
type Entry struct {
	ID     string             `json:"id"`
	Device string             `json:"device"`
	Point  string             `json:"point"`
	Value  float64            `json:"value"`
	Text   string             `json:"text,omitempty"`
	Status wire.CommandStatus `json:"status"`
	Detail string             `json:"detail,omitempty"`
	At     time.Time          `json:"at"`
}

// Recent returns the last 20 commands by arrival, newest first, with the
// step each is at.
func (e *Executor) Recent() []Entry {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []Entry{}
	for i := len(e.order) - 1; i >= 0 && len(out) < recentMax; i-- {
		en := e.es[e.order[i]]
		out = append(out, Entry{ID: en.id, Device: en.device, Point: en.point, Value: en.value, Text: en.text, Status: en.status, Detail: en.detail, At: en.at})
	}
	return out
}

// clip keeps a detail within wire.MaxDetailLen bytes, on a rune boundary.
func clip(s string) string {
	if len(s) <= wire.MaxDetailLen {
		return s
	}
	cut := wire.MaxDetailLen - 3
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}

func fmtValue(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
