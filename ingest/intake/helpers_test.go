package intake_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/intake"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/wire"
)

var quiet = slog.New(slog.DiscardHandler)

// testLogger logs warnings to stderr when PONTE_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("PONTE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return quiet
}

var topics = wire.Topics{Prefix: "ponte"}

// pipeline is one ingest instance: service + MQTT intake.
type pipeline struct {
	svc      *service.Service
	mqtt     *intake.MQTT
	applier  *ingesttest.CountingApplier
	dlDir    string
	stateDir string
	reg      *prometheus.Registry
	cancel   context.CancelFunc
	// cancelIntake stops the intake (nil without one).
	cancelIntake context.CancelFunc
	wg           sync.WaitGroup
}

type pipeOpts struct {
	url, clientID, user, pass string
	sink                      service.Sink
	stateDir, dlDir           string
	mod                       func(*service.Config)
	// probe is the intake's ProbeInterval (0: its default).
	probe time.Duration
	// log, if set, is the intake's logger.
	log *slog.Logger
	// onStatus is the intake's OnStatus.
	onStatus func(wire.Status)
	// onReport is the intake's OnReport.
	onReport func(topic string, payload []byte)
}

func startPipeline(t testing.TB, o pipeOpts) *pipeline {
	t.Helper()
	p := newService(t, o)
	if o.log == nil {
		o.log = testLogger()
	}
	var err error
	p.mqtt, err = intake.NewMQTT(intake.MQTTConfig{URL: o.url, ClientID: o.clientID, Username: o.user, Password: o.pass,
		Topics: topics, ProbeInterval: o.probe, OnStatus: o.onStatus, OnReport: o.onReport, Logger: o.log}, p.svc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancelIntake = cancel
	p.wg.Add(1)
	go func() { defer p.wg.Done(); p.mqtt.Run(ctx) }()
	testenv.Eventually(t, 10*time.Second, fmt.Sprintf("intake %s connected to %s", o.clientID, o.url), p.mqtt.Connected)
	return p
}

// newService starts the pipeline of o (service, dedup, dead letters) with
// no intake; it stops when the test ends.
func newService(t testing.TB, o pipeOpts) *pipeline {
	t.Helper()
	if o.stateDir == "" {
		o.stateDir = t.TempDir()
	}
	if o.dlDir == "" {
		o.dlDir = t.TempDir()
	}
	st, err := dedup.Open(dedup.Config{Dir: o.stateDir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	dl, err := deadletter.Open(deadletter.Config{Dir: o.dlDir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{applier: ingesttest.NewCountingApplier(), dlDir: o.dlDir, stateDir: o.stateDir, reg: prometheus.NewRegistry()}
	cfg := service.Config{Sink: o.sink, Applier: p.applier, Dedup: st, DeadLetter: dl, Logger: testLogger(),
		Registerer: p.reg, RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond}
	if o.mod != nil {
		o.mod(&cfg)
	}
	p.svc, err = service.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(1)
	go func() { defer p.wg.Done(); p.svc.Run(ctx) }()
	t.Cleanup(p.stop)
	return p
}

func (p *pipeline) stop() {
	if p.cancelIntake != nil {
		p.cancelIntake()
	}
	p.cancel()
	p.wg.Wait()
}

// runGateways runs n fake gateways publishing total readings each, and
// fails t if they are not all acknowledged within limit.
func runGateways(t testing.TB, url string, n int, total uint64, limit time.Duration, mod func(*ingesttest.Gateway)) []*ingesttest.Gateway {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	gws := make([]*ingesttest.Gateway, n)
	errs := make(chan error, n)
	for i := range gws {
		id := fmt.Sprintf("gw%d", i+1)
		g := &ingesttest.Gateway{ID: id, Epoch: 42, Topics: topics, ResendAfter: 2 * time.Second}
		if mod != nil {
			mod(g)
		}
		gws[i] = g
		c, err := g.Connect(url, "pw-"+id)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer c.Disconnect(50)
			errs <- g.Run(ctx, c, total)
		}()
	}
	for range gws {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	return gws
}

// checkOnce checks that every reading 1..total of every gateway is in the
// sink and applied exactly once over the appliers.
func checkOnce(t testing.TB, points map[ingesttest.Key]wire.Reading, gws []*ingesttest.Gateway, total uint64, appliers ...*ingesttest.CountingApplier) {
	t.Helper()
	applied := map[ingesttest.SeqKey]int{}
	for _, a := range appliers {
		for k, n := range a.Counts() {
			applied[k] += n
		}
	}
	missing, wrong, twice, never := 0, 0, 0, 0
	for _, g := range gws {
		for s := uint64(1); s <= total; s++ {
			r := ingesttest.ReadingFor(s)
			got, ok := points[ingesttest.KeyOf(g.ID, &r)]
			switch {
			case !ok:
				missing++
			case got.Value != r.Value || !got.Time.Equal(r.Time):
				wrong++
			}
			switch n := applied[ingesttest.SeqKey{Gateway: g.ID, Epoch: g.Epoch, Seq: s}]; {
			case n == 0:
				never++
			case n > 1:
				twice++
			}
		}
	}
	if want := len(gws) * int(total); len(points) != want {
		t.Errorf("sink holds %d points, want %d", len(points), want)
	}
	if missing+wrong+twice+never > 0 {
		t.Errorf("of %d readings: %d missing, %d with a wrong value, %d applied twice or more, %d never applied",
			len(gws)*int(total), missing, wrong, twice, never)
	}
}
