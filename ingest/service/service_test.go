package service_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/wire"
)

var quiet = slog.New(slog.DiscardHandler)

type env struct {
	svc     *service.Service
	sink    *ingesttest.MemSink
	applier *ingesttest.CountingApplier
	dlDir   string
	stateD  string
	reg     *prometheus.Registry
}

func newEnv(t testing.TB, mod func(*service.Config)) *env {
	t.Helper()
	e := &env{sink: ingesttest.NewMemSink(), applier: ingesttest.NewCountingApplier(),
		dlDir: t.TempDir(), stateD: t.TempDir(), reg: prometheus.NewRegistry()}
	e.open(t, mod)
	return e
}

// open (re)creates the service over the same directories, as a restart.
func (e *env) open(t testing.TB, mod func(*service.Config)) {
	t.Helper()
	st, err := dedup.Open(dedup.Config{Dir: e.stateD, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	dl, err := deadletter.Open(deadletter.Config{Dir: e.dlDir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e.reg = prometheus.NewRegistry()
	cfg := service.Config{Sink: e.sink, Applier: e.applier, Dedup: st, DeadLetter: dl,
		Logger: quiet, Registerer: e.reg, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	e.svc, err = service.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
}

func job(gw string, payload []byte) service.Job {
	return service.Job{Transport: "test", Topic: wire.Topics{}.Up(gw), Gateway: gw, Payload: payload}
}

func batch(gw string, epoch, first, last uint64) []byte {
	return ingesttest.BatchFor(gw, epoch, first, last)
}

func encode(t *testing.T, b *wire.Batch) []byte {
	t.Helper()
	data, err := wire.Encode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestPipelineSteps(t *testing.T) {
	ctx := context.Background()
	withBadTime := func() []byte {
		b := &wire.Batch{Gateway: "gw1", Epoch: 7}
		for s := uint64(31); s <= 34; s++ {
			r := ingesttest.ReadingFor(s)
			if s == 32 {
				r.Time = time.Now().Add(time.Hour)
			}
			if s == 33 {
				r.Time = time.Now().Add(-365 * 24 * time.Hour)
			}
			b.Seqs = append(b.Seqs, s)
			b.Readings = append(b.Readings, r)
		}
		return encode(t, b)
	}()
	badVersion := batch("gw1", 7, 40, 41)
	badVersion[3] = 9
	flipped := batch("gw1", 7, 40, 41)
	flipped[len(flipped)/2] ^= 0xff
	type step struct {
		name                        string
		job                         service.Job
		wantErr                     string // InvalidError reason
		wantAck                     uint64
		written, dups, deadLettered int
	}
	steps := []step{
		{name: "fresh", job: job("gw1", batch("gw1", 7, 1, 10)), wantAck: 10, written: 10},
		{name: "replay", job: job("gw1", batch("gw1", 7, 1, 10)), wantAck: 10, dups: 10},
		{name: "older part", job: job("gw1", batch("gw1", 7, 3, 5)), wantAck: 10, dups: 3},
		{name: "overlap", job: job("gw1", batch("gw1", 7, 6, 15)), wantAck: 15, written: 5, dups: 5},
		{name: "gap held", job: job("gw1", batch("gw1", 7, 21, 25)), wantAck: 15, written: 5},
		{name: "gap filled", job: job("gw1", batch("gw1", 7, 16, 20)), wantAck: 25, written: 5},
		{name: "other epoch", job: job("gw1", batch("gw1", 8, 1001, 1003)), wantAck: 0, written: 3},
		{name: "gateway mismatch", job: job("gw2", batch("gw1", 7, 26, 30)), wantErr: service.ReasonGatewayMismatch},
		{name: "after mismatch", job: job("gw1", batch("gw1", 7, 26, 30)), wantAck: 30, written: 5},
		{name: "bad times", job: job("gw1", withBadTime), wantAck: 34, written: 2, deadLettered: 2},
		{name: "garbage", job: job("gw1", []byte("hello, ingest")), wantErr: service.ReasonCorrupt},
		{name: "empty", job: job("gw1", nil), wantErr: service.ReasonTruncated},
		{name: "version", job: job("gw1", badVersion), wantErr: service.ReasonVersion},
		{name: "flipped byte", job: job("gw1", flipped), wantErr: service.ReasonCorrupt},
		{name: "too large", job: job("gw1", make([]byte, wire.MaxBatchBytes+1)), wantErr: service.ReasonTooLarge},
		{name: "still going", job: job("gw1", batch("gw1", 7, 35, 40)), wantAck: 40, written: 6},
	}
	e := newEnv(t, nil)
	wantWritten := 0
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			res := e.svc.Process(ctx, st.job)
			if st.wantErr != "" {
				var inv *service.InvalidError
				if !errors.As(res.Err, &inv) || inv.Reason != st.wantErr {
					t.Fatalf("err = %v, want invalid %s", res.Err, st.wantErr)
				}
				if res.HasAck {
					t.Fatal("an invalid batch got an ack")
				}
				return
			}
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if !res.HasAck || res.Ack.Seq != st.wantAck || res.Ack.Gateway != "gw1" {
				t.Errorf("ack = %+v (has %v), want seq %d", res.Ack, res.HasAck, st.wantAck)
			}
			if res.Written != st.written || res.Duplicates != st.dups || res.DeadLettered != st.deadLettered {
				t.Errorf("written/dups/dead = %d/%d/%d, want %d/%d/%d", res.Written, res.Duplicates, res.DeadLettered, st.written, st.dups, st.deadLettered)
			}
			wantWritten += st.written
		})
	}
	if got := e.sink.Len(); got != wantWritten {
		t.Errorf("sink holds %d points, want %d", got, wantWritten)
	}
	for k, n := range e.applier.Counts() {
		if n != 1 {
			t.Errorf("%+v applied %d times", k, n)
		}
	}
	if got := e.applier.Total(); got != wantWritten {
		t.Errorf("applied %d readings, want %d", got, wantWritten)
	}
	letters, err := deadletter.List(e.dlDir)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, l := range letters {
		reasons[l.Reason]++
	}
	want := map[string]int{service.ReasonGatewayMismatch: 1, service.ReasonTime: 1, service.ReasonCorrupt: 2,
		service.ReasonTruncated: 1, service.ReasonVersion: 1, service.ReasonTooLarge: 1}
	for r, n := range want {
		if reasons[r] != n {
			t.Errorf("dead letters %s = %d, want %d (all: %v)", r, reasons[r], n, reasons)
		}
	}
}

func TestPolicies(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		mod     func(*service.Config)
		gw      string
		wantErr string
		written int
		dead    int
	}{
		{"any gateway", nil, "gwx", "", 10, 0},
		{"unknown gateway", func(c *service.Config) { c.Gateways = []string{"gw1"} }, "gwx", service.ReasonUnknownGateway, 0, 0},
		{"listed gateway", func(c *service.Config) { c.Gateways = []string{"gw1"} }, "gw1", "", 10, 0},
		{"unknown devices accepted", func(c *service.Config) {
			c.Devices = map[string][]string{"gw1": {"dev1"}}
			c.UnknownDevices = service.PolicyAccept
		}, "gw1", "", 10, 0},
		{"unknown devices dead-lettered by default", func(c *service.Config) { c.Devices = map[string][]string{"gw1": {"dev1", "dev2"}} }, "gw1", "", 2, 8},
		{"unknown devices dead-lettered", func(c *service.Config) {
			c.Devices = map[string][]string{"gw1": {"dev1", "dev2"}}
			c.UnknownDevices = service.PolicyDeadLetter
		}, "gw1", "", 2, 8},
		{"gateway without device list", func(c *service.Config) {
			c.Devices = map[string][]string{"gw2": {"dev1"}}
			c.UnknownDevices = service.PolicyDeadLetter
		}, "gw1", "", 10, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.mod)
			res := e.svc.Process(ctx, job(tc.gw, batch(tc.gw, 1, 1, 10)))
			if tc.wantErr != "" {
				var inv *service.InvalidError
				if !errors.As(res.Err, &inv) || inv.Reason != tc.wantErr {
					t.Fatalf("err = %v, want %s", res.Err, tc.wantErr)
				}
				return
			}
			if res.Err != nil || res.Written != tc.written || res.DeadLettered != tc.dead || res.Ack.Seq != 10 {
				t.Fatalf("result %+v, want written %d dead %d ack 10", res, tc.written, tc.dead)
			}
		})
	}
}

func TestSinkRejectionsDeadLettered(t *testing.T) {
	e := newEnv(t, nil)
	e.sink.Reject = func(r *wire.Reading) string {
		if r.Value.Kind == wire.KindString {
			return "field type conflict"
		}
		return ""
	}
	res := e.svc.Process(context.Background(), job("gw1", batch("gw1", 1, 1, 12)))
	if res.Err != nil || res.Written != 9 || res.DeadLettered != 3 || res.Ack.Seq != 12 {
		t.Fatalf("result %+v, want 9 written, 3 dead-lettered, ack 12", res)
	}
	if e.applier.Total() != 9 {
		t.Errorf("applied %d, want 9 (rejected readings are not applied)", e.applier.Total())
	}
	letters, _ := deadletter.List(e.dlDir)
	if len(letters) != 1 || letters[0].Reason != service.ReasonSinkRejected || letters[0].Readings != 3 || letters[0].Detail != "field type conflict" {
		t.Fatalf("letters %+v", letters)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	if res := e.svc.Process(ctx, job("gw1", batch("gw1", 1, 1, 50))); res.Err != nil || res.Written != 50 {
		t.Fatalf("first: %+v", res)
	}
	e.open(t, nil)
	res := e.svc.Process(ctx, job("gw1", batch("gw1", 1, 1, 60)))
	if res.Err != nil || res.Written != 10 || res.Duplicates != 50 || res.Ack.Seq != 60 {
		t.Fatalf("after restart: %+v, want 10 written, 50 duplicates", res)
	}
	if e.applier.Total() != 60 {
		t.Errorf("applied %d, want 60", e.applier.Total())
	}
}

// TestSinkDownHoldsBack: while the sink is down the batch waits, nothing is
// acknowledged or marked, Ready is false; when it comes back the batch
// completes; stopping while down leaves the batch undone.
func TestSinkDownHoldsBack(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- e.svc.Run(ctx) }()

	e.sink.SetDown(true)
	results := make(chan service.Result, 2)
	submit := func(first, last uint64) {
		j := job("gw1", batch("gw1", 1, first, last))
		j.Done = func(r service.Result) { results <- r }
		if err := e.svc.Submit(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	submit(1, 10)
	select {
	case r := <-results:
		t.Fatalf("batch finished while the sink was down: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	if e.svc.Ready() {
		t.Error("Ready while the sink is down")
	}
	e.sink.SetDown(false)
	select {
	case r := <-results:
		if r.Err != nil || r.Ack.Seq != 10 {
			t.Fatalf("after recovery: %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("batch not done 10s after the sink came back")
	}
	if !e.svc.Ready() {
		t.Error("not Ready after recovery")
	}

	e.sink.SetDown(true)
	submit(11, 20)
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case r := <-results:
		if r.Err == nil || r.HasAck {
			t.Fatalf("stopped while down: %+v, want an error and no ack", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no result 10s after stop")
	}
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	e.sink.SetDown(false)
	stopped := e.svc
	e.open(t, nil)
	if res := e.svc.Process(context.Background(), job("gw1", batch("gw1", 1, 11, 20))); res.Written != 10 {
		t.Fatalf("batch 11-20 after restart: %+v, want all 10 written (it was never marked)", res)
	}
	if err := stopped.Submit(context.Background(), job("gw1", nil)); !errors.Is(err, service.ErrClosed) {
		t.Errorf("Submit on a stopped service = %v, want ErrClosed", err)
	}
}

// gapStep is one batch of a gap scenario and what ingest must answer.
type gapStep struct {
	first, last, retained uint64
	after                 time.Duration // since the scenario's start
	ack                   uint64
	written               int
}

// runGapSteps processes the batches of gateway gw1, epoch 3, at their
// times, checks each answer, and returns the env.
func runGapSteps(t *testing.T, steps []gapStep) *env {
	t.Helper()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	e := newEnv(t, func(c *service.Config) {
		c.Now = func() time.Time { return now }
		c.MaxAge = 100 * 365 * 24 * time.Hour
		c.MaxFuture = 100 * 365 * 24 * time.Hour
	})
	start := now
	for i, st := range steps {
		now = start.Add(st.after)
		res := e.svc.Process(context.Background(), job("gw1", ingesttest.BatchRetaining("gw1", 3, st.first, st.last, st.retained)))
		if res.Err != nil || res.Ack.Seq != st.ack || res.Written != st.written {
			t.Fatalf("step %d (%d-%d retained %d): %+v, want ack %d written %d", i, st.first, st.last, st.retained, res, st.ack, st.written)
		}
	}
	return e
}

// TestGapAfterOutage: after an outage the batches beyond a gap may arrive
// before the one that fills it (several instances split a gateway's
// resends): the gap is held, and the late batch is written and applied.
func TestGapAfterOutage(t *testing.T) {
	e := runGapSteps(t, []gapStep{
		{1, 10, 1, 0, 10, 10},
		{21, 30, 11, 0, 10, 10},                           // 11-20 in flight elsewhere when the link went down
		{21, 30, 11, 3 * time.Minute, 10, 0},              // after the outage: still held
		{11, 20, 11, 3*time.Minute + time.Second, 30, 10}, // the late batch: written
	})
	if e.applier.Total() != 30 {
		t.Errorf("applied %d, want 30", e.applier.Total())
	}
}

// TestGapNeverGivenUpOnTime is the loss of issue 8: a gap stays open for
// as long as the gateway holds what it waits for, however long and
// however often the gateway resends what follows; the acknowledgement
// never covers it, so the gateway never frees it.
func TestGapNeverGivenUpOnTime(t *testing.T) {
	e := runGapSteps(t, []gapStep{
		{1, 10, 1, 0, 10, 10},
		{21, 30, 11, 0, 10, 10},              // 11-20 dropped by the broker: held
		{21, 30, 11, time.Minute, 10, 0},     // resent
		{21, 30, 11, 2 * time.Minute, 10, 0}, // and again, a minute later
		{31, 40, 11, 24 * time.Hour, 10, 10}, // a day later: written, still held
		{11, 20, 11, 25 * time.Hour, 40, 10}, // the gap's readings: all acknowledged
	})
	if e.applier.Total() != 40 {
		t.Errorf("applied %d, want 40", e.applier.Total())
	}
	if got := metricSum(t, e.reg, "ponte_ingest_gateway_dropped_readings_total"); got != 0 {
		t.Errorf("dropped readings %v, want 0", got)
	}
}

// TestGapReleasedByGateway: the gateway declares it no longer holds part
// of a gap (its buffer's cap dropped it); ingest moves the acknowledgement
// up to what it declares and no further, and counts what was dropped.
func TestGapReleasedByGateway(t *testing.T) {
	e := runGapSteps(t, []gapStep{
		{1, 10, 1, 0, 10, 10},
		{21, 30, 11, 0, 10, 10},
		{21, 30, 16, time.Second, 15, 0},      // dropped 11-15: ack 15, gap 16-20 still open
		{31, 40, 21, 2 * time.Second, 40, 10}, // dropped 16-20 too
	})
	if got := metricSum(t, e.reg, "ponte_ingest_gateway_dropped_readings_total"); got != 10 {
		t.Errorf("dropped readings %v, want 10", got)
	}
	if gaps := e.svc.Gaps(); len(gaps) != 0 {
		t.Errorf("gaps after release: %+v", gaps)
	}
}

// TestGapVisible: an open gap shows in Gaps and in the metrics, per
// gateway, and goes away when it fills.
func TestGapVisible(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	e.svc.Process(ctx, job("gw1", ingesttest.BatchRetaining("gw1", 3, 1, 10, 1)))
	e.svc.Process(ctx, job("gw1", ingesttest.BatchRetaining("gw1", 3, 18, 30, 11)))
	gaps := e.svc.Gaps()
	if len(gaps) != 1 || gaps[0].Gateway != "gw1" || gaps[0].Mark != 10 || gaps[0].Missing != 7 || gaps[0].Since.IsZero() {
		t.Fatalf("gaps %+v, want gw1 acknowledged to 10 missing 7", gaps)
	}
	if n := gaugeWithLabel(t, e.reg, "ponte_ingest_gap_missing_readings", "gw1"); n != 7 {
		t.Fatalf("ponte_ingest_gap_missing_readings{gateway=gw1} %v, want 7", n)
	}
	e.svc.Process(ctx, job("gw1", ingesttest.BatchRetaining("gw1", 3, 11, 17, 11)))
	if gaps := e.svc.Gaps(); len(gaps) != 0 {
		t.Fatalf("gaps after the fill: %+v", gaps)
	}
	if n := gaugeWithLabel(t, e.reg, "ponte_ingest_gap_missing_readings", "gw1"); n != -1 {
		t.Fatalf("a filled gap still exported: %v", n)
	}
}

// TestGapReleasedByStatus: a gateway whose buffer dropped everything
// beyond a gap has no batch to say so in; its status message does.
func TestGapReleasedByStatus(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	e.svc.Process(ctx, job("gw1", ingesttest.BatchRetaining("gw1", 3, 1, 10, 1)))
	e.svc.Process(ctx, job("gw1", ingesttest.BatchRetaining("gw1", 3, 21, 30, 11)))
	if _, moved, err := e.svc.Release(ctx, "gw1", 3, 11); err != nil || moved {
		t.Fatalf("release at 11 (the gateway holds the gap) moved=%v err=%v", moved, err)
	}
	ack, moved, err := e.svc.Release(ctx, "gw1", 3, 31)
	if err != nil || !moved || !reflect.DeepEqual(ack, wire.Ack{Gateway: "gw1", Epoch: 3, Seq: 30}) {
		t.Fatalf("release at 31: %+v moved=%v err=%v, want ack 30", ack, moved, err)
	}
}

// TestDeferredWhenTooManyGaps: a batch that would open more ranges than
// the dedup state keeps is neither written nor recorded; the gateway
// sends it again later and it is written then.
func TestDeferredWhenTooManyGaps(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	e.svc.Process(ctx, job("gw1", ingesttest.BatchRetaining("gw1", 3, 1, 1, 1)))
	const ranges = 32 // dedup's default MaxRanges
	for i := uint64(0); i < ranges; i++ {
		res := e.svc.Process(ctx, job("gw1", ingesttest.BatchRetaining("gw1", 3, 3+2*i, 3+2*i, 2)))
		if res.Written != 1 || res.Ack.Seq != 1 {
			t.Fatalf("range %d: %+v", i, res)
		}
	}
	res := e.svc.Process(ctx, job("gw1", ingesttest.BatchRetaining("gw1", 3, 100, 109, 2)))
	if res.Err != nil || res.Written != 0 || res.Deferred != 10 || res.Ack.Seq != 1 {
		t.Fatalf("the batch beyond the ranges: %+v, want deferred 10, ack 1", res)
	}
	if got := e.applier.Total(); got != 1+ranges {
		t.Fatalf("applied %d, want %d (nothing of the deferred batch)", got, 1+ranges)
	}
	// The gaps fill; the deferred batch, sent again, is written.
	for i := uint64(0); i < ranges; i++ {
		e.svc.Process(ctx, job("gw1", ingesttest.BatchRetaining("gw1", 3, 2+2*i, 2+2*i, 2)))
	}
	res = e.svc.Process(ctx, job("gw1", ingesttest.BatchRetaining("gw1", 3, 66, 109, 2)))
	if res.Written != 44 || res.Ack.Seq != 109 {
		t.Fatalf("after the fill: %+v, want 44 written, ack 109", res)
	}
}

type orderApplier struct {
	mu   sync.Mutex
	last map[string]uint64
	bad  []string
	n    int
}

func (a *orderApplier) Apply(gw string, _ uint64, b *wire.Batch) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if b.First() <= a.last[gw] {
		a.bad = append(a.bad, fmt.Sprintf("%s: %d after %d", gw, b.First(), a.last[gw]))
	}
	a.last[gw] = b.Last()
	a.n += len(b.Seqs)
}

func TestConcurrentGatewaysInOrder(t *testing.T) {
	app := &orderApplier{last: map[string]uint64{}}
	e := newEnv(t, func(c *service.Config) { c.Applier = app; c.Workers = 3; c.QueueLen = 2 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.svc.Run(ctx)
	const gateways, batches, size = 6, 30, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	acks := map[string]uint64{}
	for g := 0; g < gateways; g++ {
		wg.Add(1)
		go func(gw string) {
			defer wg.Done()
			for i := uint64(0); i < batches; i++ {
				j := job(gw, batch(gw, 1, i*size+1, (i+1)*size))
				j.Done = func(r service.Result) {
					mu.Lock()
					defer mu.Unlock()
					if r.Err == nil && r.Ack.Seq > acks[gw] {
						acks[gw] = r.Ack.Seq
					}
					if r.Ack.Seq < acks[gw] {
						t.Errorf("%s: ack went back to %d", gw, r.Ack.Seq)
					}
				}
				if err := e.svc.Submit(ctx, j); err != nil {
					t.Error(err)
					return
				}
			}
		}(fmt.Sprint("gw", g))
	}
	wg.Wait()
	// A batch is applied after its write: wait for both.
	applied := func() int { app.mu.Lock(); defer app.mu.Unlock(); return app.n }
	testenv.Eventually(t, 20*time.Second, "every batch written and applied", func() bool {
		return e.sink.Len() >= gateways*batches*size && applied() >= gateways*batches*size
	})
	if e.sink.Len() != gateways*batches*size {
		t.Fatalf("sink has %d points, want %d", e.sink.Len(), gateways*batches*size)
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	if len(app.bad) > 0 || app.n != gateways*batches*size {
		t.Fatalf("applied %d out of order: %v", app.n, app.bad)
	}
}

func TestConfigValidate(t *testing.T) {
	st, _ := dedup.Open(dedup.Config{Dir: t.TempDir(), Logger: quiet})
	dl, _ := deadletter.Open(deadletter.Config{Dir: t.TempDir(), Logger: quiet})
	ok := service.Config{Sink: ingesttest.DiscardSink{}, Dedup: st, DeadLetter: dl}
	tests := []struct {
		name string
		mod  func(*service.Config)
	}{
		{"no sink", func(c *service.Config) { c.Sink = nil }},
		{"no dedup", func(c *service.Config) { c.Dedup = nil }},
		{"no dead letter", func(c *service.Config) { c.DeadLetter = nil }},
		{"bad gateway", func(c *service.Config) { c.Gateways = []string{"a/b"} }},
		{"bad policy", func(c *service.Config) { c.UnknownDevices = "drop" }},
		{"negative age", func(c *service.Config) { c.MaxAge = -time.Second }},
		{"negative workers", func(c *service.Config) { c.Workers = -1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mod(&c)
			if err := c.Validate(); err == nil {
				t.Fatal("Validate succeeded")
			}
		})
	}
	c := ok
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// metricSum adds up every series of the metric family name in reg.
func metricSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	var sum float64
	for _, m := range gather(t, reg, name) {
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}

// gaugeWithLabel returns the value of name{gateway=gw}, -1 if absent.
func gaugeWithLabel(t *testing.T, reg *prometheus.Registry, name, gw string) float64 {
	t.Helper()
	for _, m := range gather(t, reg, name) {
		for _, l := range m.GetLabel() {
			if l.GetName() == "gateway" && l.GetValue() == gw {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

func gather(t *testing.T, reg *prometheus.Registry, name string) []*dto.Metric {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f.GetMetric()
		}
	}
	return nil
}
