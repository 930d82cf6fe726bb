package app_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/ponte-city/ponte/wire"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/testenv"
)

// Environment of the child process (the ingest under test) in TestKill9.
const (
	envChildConfig  = "PONTE_INGEST_CHILD_CONFIG"
	envChildSink    = "PONTE_INGEST_CHILD_SINK"
	envChildApplied = "PONTE_INGEST_CHILD_APPLIED"
	opsPrefix       = "ingest ops at "
)

var opsRe = regexp.MustCompile(opsPrefix + `(\S+)`)

func TestMain(m *testing.M) {
	if path := os.Getenv(envChildConfig); path != "" {
		os.Exit(runChild(path))
	}
	if addr := os.Getenv(envSSEClients); addr != "" {
		os.Exit(runSSEClients(addr))
	}
	os.Exit(m.Run())
}

// runChild is ingest in a child process, writing to a file sink and a
// file applier that survive kill -9.
func runChild(path string) int {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	sink, err := ingesttest.OpenFileSink(os.Getenv(envChildSink))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	applier, err := ingesttest.OpenFileApplier(os.Getenv(envChildApplied))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	// The parent reads the ops address (port 0, bound here) from stdout.
	announce := func(a app.Addrs) { fmt.Printf("%s%s\n", opsPrefix, a.Ops) }
	if err := app.Run(ctx, cfg, app.Options{Sink: sink, Applier: applier, Logger: quiet, Started: announce}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestKill9: ingest is killed with SIGKILL three times while gateways
// stream, and restarted each time. Every reading ends up in the sink, and
// none is applied to the twin twice across the incarnations. (A kill
// between persisting the dedup mark and Apply can skip the twin update of
// the one batch per gateway in that window: the in-process twin dies with
// the process anyway. The test bounds that and reports it.)
func TestKill9(t *testing.T) {
	b := testenv.Mosquitto(t)
	dir := t.TempDir()
	_, cfgPath := writeConfig(t, dir, b.URL, "", 3)
	sinkPath, appliedPath := filepath.Join(dir, "sink.jsonl"), filepath.Join(dir, "applied.jsonl")
	child := testenv.NewProcess(t, "ingest", os.Args[0], "-test.run=^$")
	child.Env = []string{envChildConfig + "=" + cfgPath, envChildSink + "=" + sinkPath, envChildApplied + "=" + appliedPath}
	child.Ready = func() bool {
		m := child.Match(opsRe)
		return m != nil && readyz(m[1])()
	}
	child.Start()

	const gateways, total = 3, 12000
	const batch = 100
	deadline := time.Now().Add(120 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var gws []*ingesttest.Gateway
	errs := make(chan error, gateways)
	for i := 1; i <= gateways; i++ {
		g := &ingesttest.Gateway{ID: fmt.Sprintf("gw%d", i), Epoch: 7, Topics: wire.Topics{}, Batch: batch, ResendAfter: time.Second}
		gws = append(gws, g)
		c, err := g.Connect(b.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		go func() { defer c.Disconnect(50); errs <- g.Run(ctx, c, total) }()
	}
	acked := func() uint64 {
		var s uint64
		for _, g := range gws {
			s += g.Acked()
		}
		return s
	}
	kills := 0
	for _, frac := range []float64{0.2, 0.45, 0.7} {
		testenv.Eventually(t, time.Until(deadline), fmt.Sprintf("%.0f%% of the readings acknowledged", 100*frac),
			func() bool { return acked() >= uint64(frac*gateways*total) })
		child.Kill()
		kills++
		t.Logf("killed ingest at %d of %d readings acknowledged", acked(), gateways*total)
		child.Start()
	}
	for range gws {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := child.Stop(20 * time.Second); err != nil {
		t.Errorf("ingest after SIGTERM: %v", err)
	}

	written, err := ingesttest.ReadKeys[ingesttest.Key](sinkPath)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := ingesttest.ReadKeys[ingesttest.SeqKey](appliedPath)
	if err != nil {
		t.Fatal(err)
	}
	missing, rewritten, twice, skipped := 0, 0, 0, 0
	for _, g := range gws {
		for s := uint64(1); s <= total; s++ {
			r := ingesttest.ReadingFor(s)
			switch n := written[ingesttest.KeyOf(g.ID, &r)]; {
			case n == 0:
				missing++
			case n > 1:
				rewritten++
			}
			switch n := applied[ingesttest.SeqKey{Gateway: g.ID, Epoch: g.Epoch, Seq: s}]; {
			case n == 0:
				skipped++
			case n > 1:
				twice++
			}
		}
	}
	t.Logf("%d kills: %d readings written again after a kill (merged by InfluxDB), %d twin updates skipped in a crash window", kills, rewritten, skipped)
	if missing > 0 {
		t.Errorf("%d readings never written", missing)
	}
	if twice > 0 {
		t.Errorf("%d readings applied to the twin more than once", twice)
	}
	if limit := kills * gateways * batch; skipped > limit {
		t.Errorf("%d twin updates skipped, more than one batch per gateway per kill (%d)", skipped, limit)
	}
}
