package command

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

const gw = "gw-cmd-1"

// fakeWriter records writes; readback returns what a write reads back
// (default: the value written); block, when set, holds each write until
// it is closed or ctx ends.
type fakeWriter struct {
	mu       sync.Mutex
	calls    []source.WriteRequest
	readback func(v float64) (float64, error)
	block    chan struct{}
	started  chan string // IDs... points of writes that began, when set
}

func (w *fakeWriter) WritePoint(ctx context.Context, req source.WriteRequest) (float64, error) {
	w.mu.Lock()
	w.calls = append(w.calls, req)
	rb, block, started := w.readback, w.block, w.started
	w.mu.Unlock()
	if started != nil {
		started <- req.Device
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if rb != nil {
		return rb(req.Value)
	}
	return req.Value, nil
}

func (w *fakeWriter) count() int { w.mu.Lock(); defer w.mu.Unlock(); return len(w.calls) }

// clock is a settable gateway clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock                   { c := &clock{}; c.set(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)); return c }
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// reporter collects published reports; fail makes Report fail as with
// no connection.
type reporter struct {
	mu   sync.Mutex
	all  []wire.Report
	fail atomic.Bool
}

func (r *reporter) report(_ context.Context, rep *wire.Report) error {
	if r.fail.Load() {
		return errors.New("not connected")
	}
	if _, err := wire.EncodeReport(rep); err != nil {
		return err
	}
	r.mu.Lock()
	r.all = append(r.all, *rep)
	r.mu.Unlock()
	return nil
}

// of returns the reports published for id, in order.
func (r *reporter) of(id string) []wire.Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []wire.Report
	for _, rep := range r.all {
		if rep.ID == id {
			out = append(out, rep)
		}
	}
	return out
}

// waitFinal waits for the n-th final report of id (1-based) and returns it.
func (r *reporter) waitFinal(t *testing.T, id string, n int) wire.Report {
	t.Helper()
	var got wire.Report
	testenv.Eventually(t, 10*time.Second, "final report "+id, func() bool {
		k := 0
		for _, rep := range r.of(id) {
			if rep.Status.Final() {
				if k++; k == n {
					got = rep
					return true
				}
			}
		}
		return false
	})
	return got
}

func daliProfile(t testing.TB) *profile.Profile {
	return loadProfile(t, "intesis-dali-modbus.yaml")
}

// loadProfile loads a shipped profile of firmware-profiles.
func loadProfile(t testing.TB, file string) *profile.Profile {
	t.Helper()
	p, err := profile.Load("../../firmware-profiles/" + file)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// harness is an executor running on a fake writer.
type harness struct {
	e      *Executor
	w      *fakeWriter
	rep    *reporter
	clk    *clock
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

// start runs an executor over dir with devices lamp-1 and lamp-2 (the
// DALI profile) written by w.
func start(t *testing.T, dir string, w *fakeWriter, clk *clock, rep *reporter, edit ...func(*Config)) *harness {
	t.Helper()
	p := daliProfile(t)
	reg := prometheus.NewRegistry()
	cfg := Config{Gateway: gw, Dir: dir, Report: rep.report, Clock: clk.now, Registerer: reg,
		Logger:  testenv.Logger(t, -4),
		Devices: map[string]Device{"lamp-1": {Profile: p, Writer: w, Timeout: time.Second}, "lamp-2": {Profile: p, Writer: w, Timeout: time.Second}}}
	for _, f := range edit {
		f(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{e: e, w: w, rep: rep, clk: clk, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- e.Run(ctx) }()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	h.cancel()
	if h.done != nil {
		<-h.done
		h.done = nil
	}
}

// cmd encodes a command issued now on the harness's clock, expiring in 5
// minutes.
func (h *harness) cmd(t *testing.T, id, device, point string, v float64) []byte {
	t.Helper()
	now := h.clk.now()
	data, err := wire.EncodeCommand(&wire.Command{ID: id, Device: device, Point: point, Value: v, Issued: now, Expires: now.Add(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func (h *harness) counted(status string) float64 {
	return testutil.ToFloat64(h.e.m.commands.WithLabelValues(status))
}

func TestApplied(t *testing.T) {
	h := start(t, t.TempDir(), &fakeWriter{}, newClock(), &reporter{})
	h.e.Handle(h.cmd(t, "c-1", "lamp-1", "line_level", 40))
	r := h.rep.waitFinal(t, "c-1", 1)
	if r.Status != wire.StatusApplied || r.Readback == nil || *r.Readback != 40 || r.Gateway != gw || r.Repeat {
		t.Fatalf("report %+v, want applied with read-back 40", r)
	}
	if steps := h.rep.of("c-1"); steps[0].Status != wire.StatusReceived {
		t.Errorf("first report %s, want received", steps[0].Status)
	}
	if h.w.count() != 1 || h.w.calls[0].Rules == nil || h.w.calls[0].Value != 40 {
		t.Errorf("writes %+v", h.w.calls)
	}
	if h.counted("applied") != 1 {
		t.Errorf("ponte_edge_commands_total{status=applied} = %v", h.counted("applied"))
	}
	if rec := h.e.Recent(); len(rec) != 1 || rec[0].Status != wire.StatusApplied || rec[0].Point != "line_level" || rec[0].Value != 40 {
		t.Errorf("Recent %+v", rec)
	}
}

// Refusals: nothing is written, the detail says why.
func TestRefused(t *testing.T) {
	h := start(t, t.TempDir(), &fakeWriter{}, newClock(), &reporter{}, func(c *Config) {
		c.Devices["mute"] = Device{Profile: c.Devices["lamp-1"].Profile}
	})
	cases := []struct{ id, device, point, detail string }{
		{"r-range", "lamp-1", "line_level", "value 120 is above the maximum 100 %"},
		{"r-device", "lamp-9", "line_level", "device lamp-9 is not on gateway " + gw},
		{"r-readonly", "lamp-1", "lamp0_level", "point lamp0_level of profile intesis-dali-modbus is not writable"},
		{"r-point", "lamp-1", "nothing", "profile intesis-dali-modbus has no point nothing"},
		{"r-enum", "lamp-1", "line_on", "value 120 is not one of 0 (spenta), 1 (accesa al 100 %)"},
		{"r-writer", "mute", "line_level", "device mute: its source cannot write"},
	}
	for _, c := range cases {
		v := 120.0
		if c.id == "r-writer" {
			v = 40
		}
		h.e.Handle(h.cmd(t, c.id, c.device, c.point, v))
		if r := h.rep.waitFinal(t, c.id, 1); r.Status != wire.StatusRefused || r.Detail != c.detail {
			t.Errorf("%s: %s %q, want refused %q", c.id, r.Status, r.Detail, c.detail)
		}
	}
	if n := h.w.count(); n != 0 {
		t.Errorf("%d writes for refused commands", n)
	}
}

func TestExpired(t *testing.T) {
	h := start(t, t.TempDir(), &fakeWriter{}, newClock(), &reporter{})
	data := h.cmd(t, "old-1", "lamp-1", "line_level", 40)
	h.clk.advance(5*time.Minute + time.Second)
	h.e.Handle(data)
	if r := h.rep.waitFinal(t, "old-1", 1); r.Status != wire.StatusExpired || !strings.Contains(r.Detail, "expired at") {
		t.Errorf("report %+v, want expired", r)
	}
	if h.w.count() != 0 {
		t.Error("an expired command was written")
	}
}

// A redelivered ID is answered with the kept report, also after a
// restart, and written once.
func TestRedeliveredNotWrittenTwice(t *testing.T) {
	dir, clk, rep := t.TempDir(), newClock(), &reporter{}
	w := &fakeWriter{}
	h := start(t, dir, w, clk, rep)
	data := h.cmd(t, "dup-1", "lamp-1", "line_level", 40)
	h.e.Handle(data)
	first := rep.waitFinal(t, "dup-1", 1)
	h.e.Handle(data)
	again := rep.waitFinal(t, "dup-1", 2)
	if !again.Repeat || again.Status != first.Status || *again.Readback != 40 || !again.At.Equal(first.At) {
		t.Errorf("repeat %+v of %+v", again, first)
	}
	h.stop()

	w2 := &fakeWriter{}
	h2 := start(t, dir, w2, clk, rep)
	h2.e.Handle(data)
	if r := rep.waitFinal(t, "dup-1", 3); !r.Repeat || r.Status != wire.StatusApplied {
		t.Errorf("after a restart: %+v, want the kept applied report", r)
	}
	if w.count() != 1 || w2.count() != 0 {
		t.Errorf("writes %d then %d, want 1 then 0", w.count(), w2.count())
	}
	if h2.counted("repeat") != 1 {
		t.Errorf("repeat counted %v", h2.counted("repeat"))
	}
}

// A command journaled as started without a final report (the agent died
// between write and report) is reported failed at the next start and
// never written again.
func TestInterruptedByRestart(t *testing.T) {
	dir, clk, rep := t.TempDir(), newClock(), &reporter{}
	w := &fakeWriter{block: make(chan struct{}), started: make(chan string, 1)}
	h := start(t, dir, w, clk, rep)
	data := h.cmd(t, "kill-1", "lamp-1", "line_level", 40)
	h.e.Handle(data)
	<-w.started // journaled as started, write in progress: the "crash" is here

	rep2 := &reporter{}
	w2 := &fakeWriter{}
	h2 := start(t, dir, w2, clk, rep2)
	r := rep2.waitFinal(t, "kill-1", 1)
	if r.Status != wire.StatusFailed || r.Detail != Interrupted {
		t.Fatalf("after the restart: %+v, want failed %q", r, Interrupted)
	}
	h2.e.Handle(data)
	if r := rep2.waitFinal(t, "kill-1", 2); !r.Repeat || r.Detail != Interrupted {
		t.Errorf("resent after the restart: %+v", r)
	}
	if w2.count() != 0 {
		t.Error("an interrupted command was written again")
	}
	close(w.block)
	h.stop()
}

func TestReadbackMismatch(t *testing.T) {
	w := &fakeWriter{readback: func(float64) (float64, error) { return 39, nil }}
	h := start(t, t.TempDir(), w, newClock(), &reporter{})
	h.e.Handle(h.cmd(t, "mm-1", "lamp-1", "line_level", 40))
	r := h.rep.waitFinal(t, "mm-1", 1)
	if r.Status != wire.StatusFailed || r.Detail != "read back 39, wrote 40" || r.Readback == nil || *r.Readback != 39 {
		t.Errorf("report %+v", r)
	}
	w2 := &fakeWriter{readback: func(float64) (float64, error) { return 0, errors.New("modbus: timeout") }}
	h2 := start(t, t.TempDir(), w2, newClock(), &reporter{})
	h2.e.Handle(h2.cmd(t, "err-1", "lamp-1", "line_level", 40))
	if r := h2.rep.waitFinal(t, "err-1", 1); r.Status != wire.StatusFailed || r.Detail != "modbus: timeout" || r.Readback != nil {
		t.Errorf("report %+v", r)
	}
}

func TestMalformed(t *testing.T) {
	h := start(t, t.TempDir(), &fakeWriter{}, newClock(), &reporter{})
	for _, p := range []string{"", "{", "null", `{"v":1}`, `{"v":2,"id":"x"}`, strings.Repeat("x", 5000), `{"v":1,"id":"bad id"}`} {
		h.e.Handle([]byte(p))
	}
	h.e.Handle([]byte(`{"v":1,"id":"m-1","device":"lamp-1","point":"line_level","value":40}`))
	if r := h.rep.waitFinal(t, "m-1", 1); r.Status != wire.StatusRefused || !strings.HasPrefix(r.Detail, "malformed command: command m-1: issued") {
		t.Errorf("report %+v", r)
	}
	if got := h.counted("malformed"); got != 8 {
		t.Errorf("malformed counted %v, want 8", got)
	}
	if h.w.count() != 0 {
		t.Error("a malformed command was written")
	}
}

// Commands beyond MaxQueued fail busy; a device's commands run in order,
// another device's meanwhile.
func TestQueue(t *testing.T) {
	block := make(chan struct{})
	w := &fakeWriter{block: block, started: make(chan string, 10)}
	h := start(t, t.TempDir(), w, newClock(), &reporter{}, func(c *Config) { c.MaxQueued = 2 })
	h.e.Handle(h.cmd(t, "q-1", "lamp-1", "line_level", 10))
	<-w.started
	h.e.Handle(h.cmd(t, "q-2", "lamp-1", "line_level", 20))
	h.e.Handle(h.cmd(t, "q-3", "lamp-2", "line_level", 30))
	if r := h.rep.waitFinal(t, "q-3", 1); r.Status != wire.StatusFailed || r.Detail != Busy {
		t.Errorf("third command: %+v, want failed busy", r)
	}
	close(block)
	h.rep.waitFinal(t, "q-2", 1)
	if w.calls[0].Value != 10 || w.calls[1].Value != 20 || w.count() != 2 {
		t.Errorf("writes %+v, want 10 then 20", w.calls)
	}
	testenv.Eventually(t, 5*time.Second, "in-flight gauge back to 0", func() bool { return testutil.ToFloat64(h.e.m.inFlight) == 0 })

	// Two devices in parallel: lamp-2's command completes while lamp-1's
	// write is held.
	w2 := &fakeWriter{started: make(chan string, 10)}
	hold := make(chan struct{})
	w2.readback = func(v float64) (float64, error) {
		if v == 11 {
			<-hold
		}
		return v, nil
	}
	h2 := start(t, t.TempDir(), w2, newClock(), &reporter{})
	h2.e.Handle(h2.cmd(t, "p-1", "lamp-1", "line_level", 11))
	<-w2.started
	h2.e.Handle(h2.cmd(t, "p-2", "lamp-2", "line_level", 22))
	h2.rep.waitFinal(t, "p-2", 1)
	close(hold)
	h2.rep.waitFinal(t, "p-1", 1)
}

// Final reports not acknowledged by the broker are published again by
// Republish, and not after they were.
func TestRepublish(t *testing.T) {
	dir, clk, rep := t.TempDir(), newClock(), &reporter{}
	rep.fail.Store(true)
	h := start(t, dir, &fakeWriter{}, clk, rep)
	h.e.Handle(h.cmd(t, "pub-1", "lamp-1", "line_level", 40))
	testenv.Eventually(t, 5*time.Second, "the write made", func() bool { return h.w.count() == 1 })
	testenv.Eventually(t, 5*time.Second, "the report attempted", func() bool {
		h.e.mu.Lock()
		defer h.e.mu.Unlock()
		en := h.e.es["pub-1"]
		return en.final != nil && !en.queued
	})
	rep.fail.Store(false)
	h.e.Republish()
	if r := rep.waitFinal(t, "pub-1", 1); r.Status != wire.StatusApplied || r.Repeat {
		t.Errorf("republished %+v", r)
	}
	h.stop()
	rep2 := &reporter{}
	h2 := start(t, dir, &fakeWriter{}, clk, rep2)
	h2.e.Republish()
	h2.e.Handle(h2.cmd(t, "pub-2", "lamp-1", "line_level", 41))
	rep2.waitFinal(t, "pub-2", 1)
	if got := rep2.of("pub-1"); len(got) != 0 {
		t.Errorf("a report the broker acknowledged was published again after a restart: %+v", got)
	}
}

// The journal keeps an entry until its command expired Keep ago; a torn
// last line is skipped and counted.
func TestJournalBound(t *testing.T) {
	dir, clk, rep := t.TempDir(), newClock(), &reporter{}
	h := start(t, dir, &fakeWriter{}, clk, rep)
	for _, id := range []string{"j-1", "j-2"} {
		h.e.Handle(h.cmd(t, id, "lamp-1", "line_level", 40))
		rep.waitFinal(t, id, 1)
	}
	testenv.Eventually(t, 5*time.Second, "both reports journaled as published", func() bool {
		data, _ := os.ReadFile(filepath.Join(dir, JournalFile))
		return strings.Count(string(data), `"k":"published"`) == 2
	})
	h.stop()
	path := filepath.Join(dir, JournalFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`1234abcd {"k":"start","id":"torn`) // a crash mid-append
	f.Close()

	clk.advance(5*time.Minute + Keep - time.Second) // not yet
	h = start(t, dir, &fakeWriter{}, clk, rep)
	if got := testutil.ToFloat64(h.e.m.badLines); got != 1 {
		t.Errorf("bad lines %v, want 1", got)
	}
	if n := len(h.e.Recent()); n != 2 {
		t.Errorf("%d entries kept before their bound, want 2", n)
	}
	h.e.Handle(h.cmd(t, "j-3", "lamp-1", "line_level", 40))
	rep.waitFinal(t, "j-3", 1)
	clk.advance(2 * time.Second) // j-1 and j-2 now expired Keep ago; j-3 not
	h.e.Handle(h.cmd(t, "j-4", "lamp-1", "line_level", 40))
	rep.waitFinal(t, "j-4", 1)
	testenv.Eventually(t, 5*time.Second, "j-4 journaled as published", func() bool {
		data, _ := os.ReadFile(filepath.Join(dir, JournalFile))
		return strings.Count(string(data), `"k":"published"`) == 4
	})
	h.stop()

	h = start(t, dir, &fakeWriter{}, clk, rep)
	rec := h.e.Recent()
	if len(rec) != 2 || rec[0].ID != "j-4" || rec[1].ID != "j-3" {
		t.Errorf("entries after the bound: %+v, want only j-4 and j-3", rec)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(data); strings.Contains(s, `"j-1"`) || strings.Contains(s, "torn") || !strings.HasPrefix(s, journalHeader+"\n") {
		t.Errorf("compacted journal:\n%s", s)
	}
}

// SetDevices: a device removed by a reload refuses its commands, also
// those queued before; one added is written.
func TestSetDevices(t *testing.T) {
	block := make(chan struct{})
	w := &fakeWriter{block: block, started: make(chan string, 10)}
	h := start(t, t.TempDir(), w, newClock(), &reporter{})
	h.e.Handle(h.cmd(t, "s-1", "lamp-1", "line_level", 10))
	<-w.started
	h.e.Handle(h.cmd(t, "s-2", "lamp-1", "line_level", 20)) // queued behind s-1
	p := daliProfile(t)
	if err := h.e.SetDevices(map[string]Device{"lamp-3": {Profile: p, Writer: w, Timeout: time.Second}}); err != nil {
		t.Fatal(err)
	}
	close(block)
	if r := h.rep.waitFinal(t, "s-2", 1); r.Status != wire.StatusRefused || r.Detail != "device lamp-1 is not on gateway "+gw {
		t.Errorf("queued for a removed device: %+v", r)
	}
	h.e.Handle(h.cmd(t, "s-3", "lamp-3", "line_level", 30))
	if r := h.rep.waitFinal(t, "s-3", 1); r.Status != wire.StatusApplied {
		t.Errorf("added device: %+v", r)
	}
	if err := h.e.SetDevices(map[string]Device{"x": {}}); err == nil {
		t.Error("SetDevices took a device without a profile")
	}
}

func TestValidate(t *testing.T) {
	err := (&Config{Gateway: "bad gw", MaxQueued: -1, ClockSkew: -1, Devices: map[string]Device{"d": {Timeout: -1}}}).Validate()
	for _, want := range []string{`gateway "bad gw"`, "dir: expected", "report: expected", "max_queued -1", "clock_skew -1ns", "device d: no profile", "device d: timeout -1ns"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v; want it to name %q", err, want)
		}
	}
}

// FuzzHandle: no payload makes the executor panic or write a command that
// does not fit the profile.
func FuzzHandle(f *testing.F) {
	f.Add([]byte(`{"v":1,"id":"f-1","device":"lamp-1","point":"line_level","value":40,"issued":"2026-12-05T10:00:00Z","expires":"2026-12-05T10:05:00Z"}`))
	f.Add([]byte(`{"v":1,"id":"f-2","device":"lamp-1","point":"line_on","value":1,"issued":"2026-12-05T10:00:00Z","expires":"2026-12-05T10:05:00Z"}`))
	f.Add([]byte(`{"v":1,"id":"f-3"}`))
	p, err := profile.Load("../../firmware-profiles/intesis-dali-modbus.yaml")
	if err != nil {
		f.Fatal(err)
	}
	// One executor for the whole run (a new one per input would fsync a
	// new journal each time); each input's writes are counted apart.
	w := &fakeWriter{}
	e, err := New(Config{Gateway: gw, Dir: f.TempDir(), Report: (&reporter{}).report, Clock: newClock().now,
		Devices: map[string]Device{"lamp-1": {Profile: p, Writer: w, Timeout: time.Second}}})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	f.Cleanup(func() { cancel(); <-done })
	f.Fuzz(func(t *testing.T, payload []byte) {
		before := w.count()
		e.Handle(payload)
		e.Handle(payload)
		for {
			e.mu.Lock()
			idle := e.waiting == 0
			e.mu.Unlock()
			if idle {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		if n := w.count() - before; n > 1 {
			t.Fatalf("%d writes of one payload", n)
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, c := range w.calls[before:] {
			wp, err := p.Writable(c.Point)
			if err != nil || wp.Write.Check(c.Value, wp.Unit) != nil {
				t.Fatalf("wrote %s = %v, which the profile refuses", c.Point, c.Value)
			}
		}
	})
}
