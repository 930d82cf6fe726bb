package replica_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/replica"
	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin/alarms"
	"github.com/ponte-city/ponte/wire"
)

// alarmInstance is an instance with its alarm engine on the shared store.
type alarmInstance struct {
	*instance
	e    *alarms.Engine
	sync *replica.Alarms
	stop func()
}

// startAlarms starts an instance whose engine raises pm10 > 50 on the air
// stations, sharing its alarms through the cluster.
func startAlarms(t *testing.T, c *natstest.Cluster, name string) *alarmInstance {
	t.Helper()
	in := start(t, c, name)
	above, hyst := 50.0, 0.0
	rules, ok := alarms.Rules([]alarms.RuleSpec{{ID: "pm10", Category: wire.CategoryAir, Point: "pm10", Above: &above,
		Hysteresis: &hyst, Severity: alarms.Major, Label: alarms.Text{IT: "PM10 alto", EN: "PM10 high"}}}, false, "rules",
		func(p, f string, a ...any) { t.Errorf("rule %s: "+f, append([]any{p}, a...)...) })
	if !ok {
		t.FailNow()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := in.r.OpenAlarms(ctx, replica.AlarmsConfig{LeaseTTL: 3 * time.Second, Instance: name})
	if err != nil {
		t.Fatal(err)
	}
	e, err := alarms.New(alarms.Config{Reader: in.tw, Rules: rules, Shared: s, Tick: 100 * time.Millisecond,
		Logger: testenv.Logger(t, slog.LevelWarn)})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = e.Run(rctx) }()
	go func() { defer wg.Done(); _ = s.Run(rctx, e) }()
	ai := &alarmInstance{instance: in, e: e, sync: s}
	var once sync.Once
	ai.stop = func() { once.Do(func() { stop(); wg.Wait() }) }
	t.Cleanup(ai.stop)
	return ai
}

// pm10Batch is gateway gw's four air stations reading v at t, seqs from
// first on.
func pm10Batch(gw string, v float64, at time.Time, first uint64) *wire.Batch {
	b := &wire.Batch{Gateway: gw, Epoch: 1}
	for d := range devices - 1 {
		b.Seqs = append(b.Seqs, first+uint64(d))
		b.Readings = append(b.Readings, wire.Reading{Device: fmt.Sprintf("d%d", d), Point: "pm10", Value: wire.Float(v), Unit: "ug/m3", Time: at})
	}
	return b
}

// leaders returns the instances whose engine leads.
func leaders(ins ...*alarmInstance) []*alarmInstance {
	var out []*alarmInstance
	for _, in := range ins {
		if in.e.Leading() {
			out = append(out, in)
		}
	}
	return out
}

// alarmStates is an engine's alarms as "ID state by" lines, for comparing.
func alarmStates(e *alarms.Engine) string {
	var s string
	for _, a := range e.List(alarms.Query{States: []alarms.State{alarms.Raised, alarms.Acknowledged, alarms.Cleared, alarms.Closed}}) {
		by := ""
		if a.Acknowledged != nil {
			by = a.Acknowledged.By
		}
		s += fmt.Sprintf("%s %s %s %s\n", a.ID, a.Entity, a.State, by)
	}
	return s
}

// TestAlarmsShared: two instances on a three-node cluster keep one set of
// alarms. One leads and raises; the other serves the same alarms and takes
// an operator's acknowledgement, which the leader records. The leader
// dies without a word (its connection cut): the other takes the lead
// within the lease's TTL with the alarms as stored, acknowledged, clears
// them, and numbers a new one after them; an instance started later
// starts from the same alarms.
func TestAlarmsShared(t *testing.T) {
	c := natstest.Start(t, natstest.Options{Nodes: 3})
	a, b := startAlarms(t, c, "a"), startAlarms(t, c, "b")
	testenv.Eventually(t, time.Minute, "one instance leading the alarms", func() bool { return len(leaders(a, b)) == 1 })
	lead, follow := a, b
	if b.e.Leading() {
		lead, follow = b, a
	}

	now := time.Now().Truncate(time.Second)
	a.r.Apply("gw-a", 1, pm10Batch("gw-a", 70, now.Add(-3*time.Second), 1))
	testenv.Eventually(t, time.Minute, "four alarms raised on both instances, equal", func() bool {
		return len(follow.e.List(alarms.Query{})) == 4 && alarmStates(follow.e) == alarmStates(lead.e)
	})
	first := follow.e.List(alarms.Query{})[0]
	got, err := follow.e.Ack(first.ID, "Giulia Bianchi", "192.0.2.9:1", "squadra inviata")
	if err != nil || got.State != alarms.Acknowledged {
		t.Fatalf("acknowledged on the follower: %+v, %v", got, err)
	}
	if l, _ := lead.e.Get(first.ID); l.Acknowledged == nil || l.Acknowledged.By != "Giulia Bianchi" || l.Acknowledged.Note != "squadra inviata" {
		t.Fatalf("the leader's alarm after the follower's acknowledgement: %+v", l)
	}
	if _, err := lead.e.Ack(first.ID, "Luca", "", ""); err != alarms.ErrConflict {
		t.Fatalf("a second acknowledgement on the leader: %v, want ErrConflict", err)
	}

	// The leader dies: its connection is cut, so it cannot hand the lead on.
	lead.r.Close()
	lead.stop()
	testenv.Eventually(t, time.Minute, "the follower taking the lead", follow.e.Leading)
	if f, _ := follow.e.Get(first.ID); f.State != alarms.Acknowledged || f.Acknowledged.By != "Giulia Bianchi" {
		t.Fatalf("the new leader's alarm: %+v", f)
	}
	follow.r.Apply("gw-a", 1, pm10Batch("gw-a", 20, now.Add(-2*time.Second), 101))
	testenv.Eventually(t, time.Minute, "the new leader clearing the alarms", func() bool {
		f, _ := follow.e.Get(first.ID)
		return f.State == alarms.Closed && len(follow.e.List(alarms.Query{States: []alarms.State{alarms.Cleared}})) == 3
	})
	follow.r.Apply("gw-b", 1, pm10Batch("gw-b", 90, now.Add(-time.Second), 1))
	testenv.Eventually(t, time.Minute, "a new alarm on gw-b", func() bool { return len(follow.e.List(alarms.Query{States: []alarms.State{alarms.Raised}})) == 4 })
	for _, x := range follow.e.List(alarms.Query{States: []alarms.State{alarms.Raised}}) {
		if x.ID <= first.ID && len(x.ID) == len(first.ID) {
			t.Errorf("new alarm %s numbered before %s", x.ID, first.ID)
		}
	}

	late := startAlarms(t, c, "c")
	testenv.Eventually(t, time.Minute, "a later instance with the same alarms", func() bool {
		if alarmStates(late.e) == alarmStates(follow.e) {
			return true
		}
		t.Logf("later instance:\n%sleader:\n%s", alarmStates(late.e), alarmStates(follow.e))
		return false
	})
	if late.e.Leading() {
		t.Error("the later instance leads while the other still renews the lease")
	}
	t.Logf("alarms on both instances:\n%s", alarmStates(late.e))
}
