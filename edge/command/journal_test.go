package command

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// A gateway that boots with its clock two days ahead (a bad RTC), then is
// corrected by NTP, keeps every ID: ingest's resend of a command already
// written is answered with the kept report, not written again (review 16,
// item 1).
func TestClockAheadThenCorrected(t *testing.T) {
	dir, w, clk, rep := t.TempDir(), &fakeWriter{}, newClock(), &reporter{}
	rep.fail.Store(true) // link down: the applied report is not delivered, ingest resends
	h := start(t, dir, w, clk, rep)
	payload := h.cmd(t, "c-1", "lamp-1", "line_level", 40)
	h.e.Handle(payload)
	testenv.Eventually(t, 5*time.Second, "c-1 applied", func() bool {
		r := h.e.Recent()
		return len(r) == 1 && r[0].Status == wire.StatusApplied
	})
	h.stop()

	real := clk.now()
	clk.set(real.Add(48 * time.Hour)) // boots two days ahead
	start(t, dir, w, clk, rep).stop()
	clk.set(real.Add(30 * time.Second)) // NTP corrects it
	rep.fail.Store(false)
	h = start(t, dir, w, clk, rep)
	h.e.Handle(payload) // ingest's resend, before the expiry
	// Two reports, in either order: the kept report published at start
	// (it never reached the broker) and the answer to the resend; both
	// the applied one, and nothing written again.
	rep.waitFinal(t, "c-1", 2)
	for _, r := range rep.of("c-1") {
		if r.Status != wire.StatusApplied {
			t.Errorf("after the clock was corrected: %+v, want the kept applied report", r)
		}
	}
	if w.count() != 1 {
		t.Errorf("command c-1 written %d times", w.count())
	}
}

// A final report the broker never acknowledged survives compaction however
// long the gateway stays offline, and is published when the link is back;
// a published one is dropped Keep after its expiry (review 16, item 2).
func TestUnpublishedKept(t *testing.T) {
	dir, clk, rep := t.TempDir(), newClock(), &reporter{}
	h := start(t, dir, &fakeWriter{}, clk, rep)
	h.e.Handle(h.cmd(t, "pub-1", "lamp-1", "line_level", 10))
	rep.waitFinal(t, "pub-1", 1)
	testenv.Eventually(t, 5*time.Second, "pub-1 journaled as published", func() bool {
		data, _ := os.ReadFile(filepath.Join(dir, JournalFile))
		return strings.Contains(string(data), `"k":"published"`)
	})
	rep.fail.Store(true) // offline for the weekend
	h.e.Handle(h.cmd(t, "off-1", "lamp-1", "line_level", 20))
	testenv.Eventually(t, 5*time.Second, "off-1 applied", func() bool { return h.e.Recent()[0].Status == wire.StatusApplied })
	clk.advance(3 * 24 * time.Hour)
	h.e.Handle(h.cmd(t, "off-2", "lamp-1", "line_level", 30)) // a record three days later
	testenv.Eventually(t, 5*time.Second, "off-2 applied", func() bool { return h.e.Recent()[0].Status == wire.StatusApplied })
	h.stop()

	rep.fail.Store(false)
	h = start(t, dir, &fakeWriter{}, clk, rep)
	if r := rep.waitFinal(t, "off-1", 1); r.Status != wire.StatusApplied || r.Readback == nil || *r.Readback != 20 {
		t.Errorf("off-1 after three days offline: %+v, want its applied report", r)
	}
	ids := []string{}
	for _, en := range h.e.Recent() {
		ids = append(ids, en.ID)
	}
	if strings.Join(ids, ",") != "off-2,off-1" {
		t.Errorf("entries kept %v, want off-2,off-1 (pub-1 published and expired Keep ago)", ids)
	}
}

// Past MaxUnpublished unpublished reports, the oldest are dropped and
// counted.
func TestUnpublishedBound(t *testing.T) {
	dir := t.TempDir()
	old := newClock().now().Add(-30 * 24 * time.Hour)
	b := []byte(journalHeader + "\n")
	for i := range MaxUnpublished + 2 {
		id := fmt.Sprintf("u-%05d", i)
		b = appendLine(b, &record{Kind: recFinal, ID: id, Expires: old, At: old,
			Report: &wire.Report{ID: id, Gateway: gw, Status: wire.StatusApplied, At: old}})
	}
	if err := os.WriteFile(filepath.Join(dir, JournalFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	rep := &reporter{}
	rep.fail.Store(true)
	h := start(t, dir, &fakeWriter{}, newClock(), rep)
	if got := testutil.ToFloat64(h.e.m.dropped); got != 2 {
		t.Errorf("dropped %v, want 2", got)
	}
	h.e.mu.Lock()
	n, first := len(h.e.order), h.e.order[0]
	h.e.mu.Unlock()
	if n != MaxUnpublished || first != "u-00002" {
		t.Errorf("%d entries kept, first %s; want %d from u-00002", n, first, MaxUnpublished)
	}
}

// A compaction that fails (a full disk) keeps the old file: the commands
// after it are journaled and written, and compaction is tried again later
// (review 16, item 3).
func TestCompactionFails(t *testing.T) {
	dir, w, clk, rep := t.TempDir(), &fakeWriter{}, newClock(), &reporter{}
	h := start(t, dir, w, clk, rep)
	full := errors.New("no space left on device")
	tries := 0
	h.e.mu.Lock()
	h.e.j.replace = func(string, []byte, os.FileMode) error { tries++; return full }
	h.e.j.appended = compactEvery
	h.e.mu.Unlock()
	for i := range 3 {
		id := fmt.Sprintf("f-%d", i)
		h.e.Handle(h.cmd(t, id, "lamp-1", "line_level", float64(10+i)))
		if r := rep.waitFinal(t, id, 1); r.Status != wire.StatusApplied {
			t.Fatalf("%s after a failed compaction: %+v, want applied", id, r)
		}
	}
	h.e.mu.Lock()
	n := tries
	h.e.mu.Unlock()
	if n != 1 {
		t.Errorf("compaction tried %d times in 3 commands, want once (then again after %d records)", n, compactRetry)
	}
	data, _ := os.ReadFile(filepath.Join(dir, JournalFile))
	if strings.Count(string(data), `"k":"final"`) != 3 {
		t.Errorf("journal after the failed compaction:\n%s", data)
	}
	h.stop()
	h = start(t, dir, w, clk, rep)
	h.e.Handle(h.cmd(t, "f-0", "lamp-1", "line_level", 10)) // a resend
	if r := rep.waitFinal(t, "f-0", 2); !r.Repeat {
		t.Errorf("resend after a failed compaction: %+v, want repeat", r)
	}
	if w.count() != 3 {
		t.Errorf("%d writes, want 3", w.count())
	}
}

// An empty journal (a crash right after its creation) is a new one; a
// journal without its header starts the executor all the same (the agent's
// readings go on), but every command is refused with the reason, never
// written, and the metric says so (review 16, item 4).
func TestJournalEmptyOrUnreadable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, JournalFile)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h := start(t, dir, &fakeWriter{}, newClock(), &reporter{})
	h.e.Handle(h.cmd(t, "e-1", "lamp-1", "line_level", 40))
	if r := h.rep.waitFinal(t, "e-1", 1); r.Status != wire.StatusApplied || h.e.JournalError() != "" {
		t.Errorf("after an empty journal: %+v, journal error %q", r, h.e.JournalError())
	}
	h.stop()
	if data, _ := os.ReadFile(path); !strings.HasPrefix(string(data), journalHeader+"\n") {
		t.Errorf("journal after an empty one:\n%s", data)
	}

	dir = t.TempDir()
	path = filepath.Join(dir, JournalFile)
	if err := os.WriteFile(path, []byte("something else\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := &fakeWriter{}
	h = start(t, dir, w, newClock(), &reporter{})
	want := "command journal unreadable: " + path + `: line 1: "something else": expected "ponte-commands v1"`
	if got := h.e.JournalError(); got != want {
		t.Errorf("JournalError %q, want %q", got, want)
	}
	if got := testutil.ToFloat64(h.e.m.unreadable); got != 1 {
		t.Errorf("unreadable metric %v, want 1", got)
	}
	payload := h.cmd(t, "u-1", "lamp-1", "line_level", 40)
	h.e.Handle(payload)
	h.e.Handle(payload)
	if r := h.rep.waitFinal(t, "u-1", 1); r.Status != wire.StatusRefused || r.Detail != want {
		t.Errorf("command with an unreadable journal: %+v, want refused %q", r, want)
	}
	h.rep.waitFinal(t, "u-1", 2)
	h.stop()
	if w.count() != 0 {
		t.Errorf("%d writes with an unreadable journal", w.count())
	}
	if data, _ := os.ReadFile(path); string(data) != "something else\n" {
		t.Errorf("the unreadable journal was changed:\n%s", data)
	}
}
