package command

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/wire"
)

// TestReportFloodRecordsOnlyChanges: a gateway repeating a step report of
// its own open command, or step reports of a command ingest ended, adds
// no audit line past the first (issue 16 review, item 1).
func TestReportFloodRecordsOnlyChanges(t *testing.T) {
	f := newFixture(t)
	c := f.issue(t, "line_level", 40)
	for i := 0; i < 1001; i++ {
		f.report(t, "gw1", "gw1", c.ID, wire.StatusReceived, nil)
	}
	if got := f.events(t, c.ID); len(got) != 3 {
		t.Fatalf("1001 received reports gave events %v, want issued, published, received", got)
	}
	c2 := f.issue(t, "line_level", 50)
	f.clk.add(DefaultExpiry + DefaultGrace)
	f.s.sweep(ctx())
	for i := 0; i < 500; i++ {
		f.report(t, "gw1", "gw1", c2.ID, wire.StatusReceived, nil)
		f.report(t, "gw1", "gw1", c2.ID, wire.StatusExpired, nil)
	}
	if got, want := f.events(t, c2.ID), []string{"issued", "published", "expired", "received"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("late reports of an expired command gave events %v, want %v (one late report at most)", got, want)
	}
}

// TestReportRatePerGateway: a gateway past commands' report rate has its
// reports refused before they reach the lock; another gateway is not
// affected.
func TestReportRatePerGateway(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.ReportBurst = 5; c.ReportRefill = time.Hour })
	for i := 0; i < 20; i++ {
		f.report(t, "gw1", "gw1", "cmd-unknown", wire.StatusReceived, nil)
	}
	if n := f.counter(t, "ponte_ingest_command_reports_refused_total", map[string]string{"reason": "rate_limited"}); n != 15 {
		t.Fatalf("rate_limited %v, want 15", n)
	}
	f.report(t, "gw2", "gw2", "cmd-unknown", wire.StatusReceived, nil)
	if n := f.counter(t, "ponte_ingest_command_reports_refused_total", map[string]string{"reason": "unknown_command"}); n != 6 {
		t.Fatalf("unknown_command %v, want 6 (5 of gw1 in its burst, 1 of gw2)", n)
	}
}

// TestReportOfUnpublishedCommandRefused: a command ingest expired while
// it awaited approval was never sent; a gateway's final report of it
// does not end it (item 6).
func TestReportOfUnpublishedCommandRefused(t *testing.T) {
	f := newFixture(t)
	a := f.issue(t, "line_on", 1)
	f.clk.add(DefaultExpiry)
	f.s.sweep(ctx())
	f.report(t, "gw1", "gw1", a.ID, wire.StatusApplied, value(1))
	if a = f.get(t, a.ID); a.State != Expired || a.Detail != detailNotApproved {
		t.Fatalf("after a report of a never published command: %s %q", a.State, a.Detail)
	}
	if n := f.counter(t, "ponte_ingest_command_reports_refused_total", map[string]string{"reason": "unknown_command"}); n != 1 {
		t.Fatalf("unknown_command %v, want 1", n)
	}
}

// blockingPublisher holds every publish until released.
type blockingPublisher struct {
	publisher
	entered chan string
	release chan struct{}
}

func (b *blockingPublisher) publish(ctx context.Context, topic string, payload []byte) error {
	c, _ := wire.DecodeCommand(payload)
	if c != nil {
		b.entered <- c.ID
	}
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.publisher.publish(ctx, topic, payload)
}

// TestPublishOutsideTheLock: while the broker sits on a publish, the API
// and reports go on; a report arriving before the PUBACK is recorded after
// a "published" step, never before it (item 2).
func TestPublishOutsideTheLock(t *testing.T) {
	bp := &blockingPublisher{entered: make(chan string, 10), release: make(chan struct{})}
	f := newFixture(t, func(c *Config) { c.Publish = bp.publish })
	var wg sync.WaitGroup
	var issued Command
	wg.Add(1)
	go func() {
		defer wg.Done()
		issued = f.issue(t, "line_level", 40)
	}()
	id := <-bp.entered // Issue is publishing
	if got := f.s.List(allScope(), false, "", 10); len(got) != 1 || got[0].ID != id {
		t.Fatalf("List while a publish waits: %v", got)
	}
	f.report(t, "gw1", "gw1", id, wire.StatusReceived, nil) // the broker delivered before its PUBACK came back
	close(bp.release)
	wg.Wait()
	if got, want := f.events(t, id), "issued published received"; strings.Join(got, " ") != want {
		t.Fatalf("events %v, want %s", got, want)
	}
	if issued.ID != id {
		t.Fatalf("Issue returned %s", issued.ID)
	}
}

// TestReceivedWaitsForTheGateway: a command the gateway has received is
// not expired by ingest (the write may still be under way); its final
// report ends it; without one it fails after FinalWait (item 3).
func TestReceivedWaitsForTheGateway(t *testing.T) {
	f := newFixture(t)
	c := f.issue(t, "line_level", 40)
	f.report(t, "gw1", "gw1", c.ID, wire.StatusReceived, nil)
	f.clk.add(DefaultExpiry + DefaultGrace + time.Hour)
	f.s.sweep(ctx())
	if got := f.get(t, c.ID).State; got != Received {
		t.Fatalf("received, past expiry and grace: %s, want still received", got)
	}
	f.report(t, "gw1", "gw1", c.ID, wire.StatusApplied, value(40))
	if got := f.get(t, c.ID); got.State != Applied || strings.Contains(got.Steps[len(got.Steps)-1].Detail, "late") {
		t.Fatalf("after applied: %s %+v", got.State, got.Steps[len(got.Steps)-1])
	}
	c2 := f.issue(t, "line_level", 50)
	f.report(t, "gw1", "gw1", c2.ID, wire.StatusReceived, nil)
	f.clk.add(DefaultExpiry + DefaultFinalWait)
	f.s.sweep(ctx())
	if got := f.get(t, c2.ID); got.State != Failed || got.Detail != detailNoFinal {
		t.Fatalf("received, past expiry and final_wait: %s %q", got.State, got.Detail)
	}
	f.report(t, "gw1", "gw1", c2.ID, wire.StatusApplied, value(50))
	if got := f.get(t, c2.ID); got.State != Applied {
		t.Fatalf("the gateway's late applied: %s, want applied (its word stands)", got.State)
	}
}

// TestMaxOpenPerOperator: one operator's open commands do not hold every
// other operator back (item 4).
func TestMaxOpenPerOperator(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxOpenPerOperator = 3; c.DeviceBurst = 100; c.MaxExpiry = time.Hour })
	for i := 0; i < 3; i++ {
		if _, err := f.s.Issue(ctx(), allScope(), opA, Request{Entity: entFi, Point: "line_on", Value: value(0), Reason: "x", Operator: "A", ExpiresIn: "1h"}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := f.s.Issue(ctx(), allScope(), opA, Request{Entity: entFi, Point: "line_on", Value: value(0), Reason: "x", Operator: "A"})
	if errStatus(err) != http.StatusTooManyRequests || !strings.Contains(err.Error(), "max_open_per_operator") {
		t.Fatalf("the operator's fourth: %v", err)
	}
	if _, err := f.s.Issue(ctx(), allScope(), opB, Request{Entity: entBa, Point: "line_level", Value: value(10), Reason: "y", Operator: "B"}); err != nil {
		t.Fatalf("another operator: %v", err)
	}
}

// TestEndedCommandsEvicted: ended commands leave memory after KeepEnded,
// at run time and at a rebuild from the log (item 5); open ones stay.
func TestEndedCommandsEvicted(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.KeepEnded = 48 * time.Hour; c.DeviceBurst = 100 })
	old := f.issue(t, "line_level", 40)
	f.report(t, "gw1", "gw1", old.ID, wire.StatusApplied, value(40))
	f.clk.add(24 * time.Hour)
	recent := f.issue(t, "line_level", 30)
	f.report(t, "gw1", "gw1", recent.ID, wire.StatusApplied, value(30))
	f.clk.add(25 * time.Hour)
	f.s.sweep(ctx())
	if _, ok := f.s.Get(allScope(), old.ID); ok {
		t.Fatal("a command ended 49 h ago is still in memory")
	}
	if got := f.s.List(allScope(), true, "", 10); len(got) != 1 || got[0].ID != recent.ID {
		t.Fatalf("List all: %v", got)
	}
	f.s.Close()
	f.open(t)
	if _, ok := f.s.Get(allScope(), old.ID); ok {
		t.Fatal("a rebuild brought back a command past keep_ended")
	}
	if _, ok := f.s.Get(allScope(), recent.ID); !ok {
		t.Fatal("a rebuild lost a command within keep_ended")
	}
	if got := f.events(t, old.ID); len(got) != 3 {
		t.Fatalf("the audit log keeps the evicted command: %v", got)
	}
}

// TestListNewestFirst: List of all (walking the IDs from the newest) and
// of the open ones (the open index) give the newest first, and the open
// gauge follows the index.
func TestListNewestFirst(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.DeviceBurst = 1000; c.OperatorBurst = 1000; c.MaxOpenPerOperator = 1000 })
	var ids []string
	for i := 0; i < 30; i++ {
		c := f.issue(t, "line_level", float64(i+1))
		if i%2 == 0 {
			f.report(t, "gw1", "gw1", c.ID, wire.StatusApplied, value(float64(i+1)))
		}
		ids = append(ids, c.ID)
	}
	all := f.s.List(allScope(), true, "", 5)
	if len(all) != 5 || all[0].ID != ids[29] || all[4].ID != ids[25] {
		t.Fatalf("List all, 5: %v", all)
	}
	open := f.s.List(allScope(), false, "", 100)
	if len(open) != 15 || open[0].ID != ids[29] {
		t.Fatalf("List open: %d, first %v", len(open), open)
	}
	if n := f.counter(t, "ponte_ingest_commands_open", nil); n != 15 {
		t.Fatalf("open gauge %v", n)
	}
}
