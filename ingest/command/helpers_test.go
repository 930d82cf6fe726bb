package command

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

const (
	entFi = "urn:ngsi-ld:Streetlight:fi-line-1"
	entBa = "urn:ngsi-ld:Streetlight:ba-line-1"
	opA   = "op-aaaaaaaaaa"
	opB   = "op-bbbbbbbbbb"
)

var topics = wire.Topics{Prefix: wire.DefaultPrefix}

// clock is a clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)} }
func (c *clock) set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (p *publisher) fail(err error)  { p.mu.Lock(); p.err = err; p.mu.Unlock() }
func (p *publisher) count() int      { p.mu.Lock(); defer p.mu.Unlock(); return len(p.msgs) }
func (p *publisher) last() published { p.mu.Lock(); defer p.mu.Unlock(); return p.msgs[len(p.msgs)-1] }
func (p *publisher) all() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]published(nil), p.msgs...)
}
func (p *publisher) reset()     { p.mu.Lock(); p.msgs = nil; p.mu.Unlock() }
func value(v float64) *float64  { return &v }
func ctx() context.Context      { return context.Background() }
func quiet() *slog.Logger       { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func allScope() twin.Scope      { return twin.AllScope() }
func noScope() twin.Scope       { return twin.Scope{} }
func errStatus(err error) int   { return errorOf(err).Status }
func errField(err error) string { return errorOf(err).Field }

// published is one message the fake publisher took.
type published struct {
	topic string
	cmd   *wire.Command
}

// publisher is a fake broker connection.
type publisher struct {
	mu   sync.Mutex
	msgs []published
	err  error
}

func (p *publisher) publish(_ context.Context, topic string, payload []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	c, err := wire.DecodeCommand(payload)
	if err != nil {
		return errors.New("test publisher: " + err.Error())
	}
	p.msgs = append(p.msgs, published{topic, c})
	return nil
}

// loadProfile loads a shipped profile.
func loadProfile(t testing.TB, name string) *profile.Profile {
	t.Helper()
	p, err := profile.Load("../../firmware-profiles/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// lookup is an inventory of two streetlight lines, one per gateway.
func lookup(t testing.TB) func(string) (Target, bool) {
	p := loadProfile(t, "intesis-dali-modbus")
	return func(entity string) (Target, bool) {
		switch entity {
		case entFi:
			return Target{Entity: entFi, Gateway: "gw1", Device: "dali1", Profile: p, Current: map[string]float64{"line_level": 100}}, true
		case entBa:
			return Target{Entity: entBa, Gateway: "gw2", Device: "dali1", Profile: p}, true
		}
		return Target{}, false
	}
}

// fixture is a Service on a fake clock and publisher.
type fixture struct {
	s   *Service
	clk *clock
	pub *publisher
	dir string
	reg *prometheus.Registry
	cfg Config
}

func newFixture(t testing.TB, mod ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{clk: newClock(), pub: &publisher{}, dir: t.TempDir()}
	f.cfg = Config{Lookup: lookup(t), Topics: topics, Publish: f.pub.publish, AuditDir: f.dir, Now: f.clk.now, Logger: quiet()}
	for _, m := range mod {
		m(&f.cfg)
	}
	f.open(t)
	return f
}

// open (re)opens the Service on the fixture's directory.
func (f *fixture) open(t testing.TB) {
	t.Helper()
	f.reg = prometheus.NewRegistry()
	cfg := f.cfg
	cfg.Registerer = f.reg
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	t.Cleanup(func() { s.Close() })
}

// run runs the Service until the test ends.
func (f *fixture) run(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// issue issues a command of entFi as opA.
func (f *fixture) issue(t testing.TB, point string, v float64) Command {
	t.Helper()
	c, err := f.s.Issue(ctx(), allScope(), opA, Request{Entity: entFi, Point: point, Value: value(v), Reason: "lavori stradali", Operator: "Maria Rossi"})
	if err != nil {
		t.Fatalf("issue %s=%v: %v", point, v, err)
	}
	return c
}

// report publishes a report of gateway gw on topic's gateway.
func (f *fixture) report(t *testing.T, topicGW, gw, id string, st wire.CommandStatus, readback *float64) {
	t.Helper()
	b, err := wire.EncodeReport(&wire.Report{ID: id, Gateway: gw, Status: st, Readback: readback, At: f.clk.now()})
	if err != nil {
		t.Fatal(err)
	}
	f.s.HandleReport(topics.Report(topicGW), b)
}

func (f *fixture) get(t *testing.T, id string) Command {
	t.Helper()
	c, ok := f.s.Get(allScope(), id)
	if !ok {
		t.Fatalf("command %s not found", id)
	}
	return c
}

// events lists the audit log's events of id.
func (f *fixture) events(t *testing.T, id string) []string {
	t.Helper()
	es, err := f.s.Audit(allScope(), time.Time{}, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if e.Command == id {
			out = append(out, e.Event)
		}
	}
	return out
}

// counter reads a metric's value from the fixture's registry.
func (f *fixture) counter(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return 0
}
