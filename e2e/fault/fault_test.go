//go:build fault

package fault

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// scale stretches or shrinks the schedule (PONTE_FAULT_SCALE, default 1:
// five minutes of faults); a shorter run is for trying the harness only.
func scale(t *testing.T) float64 {
	v := os.Getenv("PONTE_FAULT_SCALE")
	if v == "" {
		return 1
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		t.Fatalf("PONTE_FAULT_SCALE=%q: expected a positive number", v)
	}
	return f
}

func TestFault(t *testing.T) {
	bins := buildBinaries(t, "ponte-edge", "ponte-ingest", "ponte-sim")
	for _, kind := range []string{"embedded", "mosquitto"} {
		t.Run(kind, func(t *testing.T) { runFaults(t, kind, bins) })
	}
}

// step is one scheduled fault, at a time from the start of the fault
// phase.
type step struct {
	at   float64 // seconds
	name string
	do   func()
}

func runFaults(t *testing.T, kind, bins string) {
	k := scale(t)
	tl := newTimeline()
	// The process logs printed when the test ends run to thousands of
	// lines; the failed checks are repeated after them (this cleanup runs
	// last), where a CI log's tail shows them.
	var failed []string
	t.Cleanup(func() {
		if len(failed) > 0 {
			t.Logf("fault suite, %s broker: %d checks failed (repeated after the logs):\n  %s", kind, len(failed), strings.Join(failed, "\n  "))
		}
	})
	errorf := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		failed = append(failed, msg)
		t.Error(msg)
	}
	s := startSystem(t, kind, bins, tl)
	tl.add("started: %s broker, 3 gateways x 4 simulated SDM630 meters polled every %s", kind, pollInterval)
	stopWatch := s.watchLinks()

	sleep := func(sec float64) { time.Sleep(time.Duration(sec * k * float64(time.Second))) }
	sleep(5)
	tl.add("faults begin; %s", s.statusLine())
	phase := time.Now()

	chaosDone := make(chan struct{})
	stopChaos := make(chan struct{})
	go func() { defer close(chaosDone); s.linkChaos(stopChaos, k) }()

	killEdge := func(g *gateway) func() {
		return func() {
			tl.add("kill -9 %s edge agent; %s", g.id, s.statusLine())
			g.edge.Kill()
			sleep(1)
			g.edge.Start()
			tl.add("%s edge agent started again", g.id)
		}
	}
	killIngest := func(why string) {
		tl.add("kill -9 ingest%s; %s", why, s.statusLine())
		s.ingest.Kill()
		sleep(1)
		s.ingest.Start()
		tl.add("ingest started again and ready")
	}
	brokerRestart := func() {
		if s.mosq == nil {
			killIngest(" (broker restart: the embedded broker is ingest's)")
			return
		}
		tl.add("Mosquitto killed (broker restart); %s", s.statusLine())
		s.mosq.Stop()
		sleep(1)
		s.mosq.Start()
		tl.add("Mosquitto started again")
	}
	influxOutage := func(sec float64) {
		tl.add("InfluxDB stopped (SIGKILL) for %.0fs; %s", sec*k, s.statusLine())
		s.influx.Stop()
		sleep(sec)
		s.influx.Start()
		tl.add("InfluxDB back; %s", s.statusLine())
	}
	steps := []step{
		{10, "kill gw1", killEdge(s.gws[0])},
		{25, "kill gw2", killEdge(s.gws[1])},
		{40, "kill gw3", killEdge(s.gws[2])},
		{55, "kill ingest", func() { killIngest("") }},
		{75, "broker restart", brokerRestart},
		{95, "influx outage", func() { influxOutage(60) }},
		{170, "influx kill", func() {
			tl.add("InfluxDB killed (SIGKILL) and started at once; %s", s.statusLine())
			s.influx.Stop()
			s.influx.Start()
			tl.add("InfluxDB back")
		}},
		{185, "broker restart then influx outage", func() {
			brokerRestart()
			sleep(1)
			influxOutage(65)
		}},
		{262, "kill ingest during a cut", func() {
			g := s.gws[0]
			tl.add("cut %s link (for the ingest kill)", g.id)
			g.link.Cut()
			killIngest(" during " + g.id + "'s cut")
			sleep(2)
			g.link.Heal()
			tl.add("%s link healed", g.id)
		}},
		{275, "kill every edge", func() {
			tl.add("kill -9 every edge agent at once; %s", s.statusLine())
			for _, g := range s.gws {
				g.edge.Kill()
			}
			sleep(1)
			for _, g := range s.gws {
				g.edge.Start()
			}
			tl.add("every edge agent started again")
		}},
		{288, "broker restart", brokerRestart},
	}
	for _, st := range steps {
		wait := time.Until(phase.Add(time.Duration(st.at * k * float64(time.Second))))
		time.Sleep(wait)
		st.do()
	}
	time.Sleep(time.Until(phase.Add(time.Duration(300 * k * float64(time.Second)))))
	close(stopChaos)
	<-chaosDone
	for _, g := range s.gws {
		g.link.Heal()
	}
	tl.add("faults end, every link healed; %s", s.statusLine())

	// Wait until each edge has had acknowledged what it held now.
	targets := map[string]uint64{}
	for _, g := range s.gws {
		st, ok := g.status()
		if !ok {
			t.Fatalf("%s: no /status after the faults", g.id)
		}
		targets[g.id] = st.Buffer.DurableSeq
	}
	deadline := time.Now().Add(60 * time.Second)
	caughtUp := map[string]bool{}
	for len(caughtUp) < len(s.gws) && time.Now().Before(deadline) {
		for _, g := range s.gws {
			if st, ok := g.status(); ok && st.Buffer.AckedSeq >= targets[g.id] && !caughtUp[g.id] {
				caughtUp[g.id] = true
				tl.add("%s: ingest acknowledged up to %d (held %d when the faults ended)", g.id, st.Buffer.AckedSeq, targets[g.id])
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, g := range s.gws {
		if !caughtUp[g.id] {
			errorf("%s: ingest did not acknowledge up to seq %d (held when the faults ended) within 60s; %s", g.id, targets[g.id], s.statusLine())
		}
	}
	for _, g := range s.gws {
		if err := g.edge.Stop(30 * time.Second); err != nil {
			errorf("%s edge agent exit after SIGTERM: %v", g.id, err)
		}
		g.watch.close()
	}
	stopWatch()
	tl.add("edge agents stopped (SIGTERM)")

	s.verdict(t, tl, errorf)
}

// linkChaos cuts or stalls a random gateway's link every few seconds
// until stop is closed.
func (s *system) linkChaos(stop <-chan struct{}, k float64) {
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	s.tl.add("link chaos begins (seed %d)", seed)
	dur := func(lo, hi float64) time.Duration {
		return time.Duration((lo + rng.Float64()*(hi-lo)) * k * float64(time.Second))
	}
	for {
		select {
		case <-stop:
			return
		case <-time.After(dur(4, 9)):
		}
		g := s.gws[rng.Intn(len(s.gws))]
		var d time.Duration
		if rng.Intn(2) == 0 {
			d = dur(1, 5)
			s.tl.add("cut %s link for %.1fs", g.id, d.Seconds())
			g.link.Cut()
		} else {
			d = dur(2, 8)
			s.tl.add("stall %s link for %.1fs", g.id, d.Seconds())
			g.link.Stall()
		}
		select {
		case <-stop:
		case <-time.After(d):
		}
		g.link.Heal()
	}
}

// watchLinks adds the edges' uplink state changes to the timeline until
// the returned function is called.
func (s *system) watchLinks() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		last := map[string]string{}
		for ctx.Err() == nil {
			for _, g := range s.gws {
				state := "agent down"
				if st, ok := g.status(); ok {
					state = "uplink down"
					if st.Uplink.Connected {
						state = "uplink up"
					}
				}
				if last[g.id] != state {
					if last[g.id] != "" {
						s.tl.add("  %s: %s", g.id, state)
					}
					last[g.id] = state
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// verdict reads the ground truth and what InfluxDB and the twin got, and
// reports per gateway.
func (s *system) verdict(t *testing.T, tl *timeline, errorf func(string, ...any)) {
	ctx := context.Background()
	epochs := map[string]uint64{}
	acks := map[string]uint64{}
	recs := map[string][]accepted{}
	for _, g := range s.gws {
		ep, acked, err := persistedAck(g.bufDir)
		if err != nil {
			t.Fatalf("%s: %v", g.id, err)
		}
		cep, rs, err := readAccepted(ctx, g.copyDir)
		if err != nil {
			t.Fatalf("%s: %v", g.id, err)
		}
		if cep != ep {
			errorf("%s: the buffer's epoch is %d but the segments seen are of epoch %d: continuity was lost", g.id, ep, cep)
		}
		epochs[g.id], acks[g.id], recs[g.id] = ep, acked, rs
	}
	logs, err := readIngestLog(s.ingest.Log, epochs)
	if err != nil {
		t.Fatal(err)
	}
	ingestKills := tl.count("kill -9 ingest")
	t.Logf("timeline (%s broker):\n%s", s.kind, tl)
	for gi, g := range s.gws {
		f := judge(g.id, epochs[g.id], acks[g.id], recs[g.id], s.influxPoints(t, g.id), logs[g.id])
		g.watch.mu.Lock()
		f.segErrs = g.watch.errs
		g.watch.mu.Unlock()
		t.Logf("found (%s broker):\n%s", s.kind, f)
		rs := recs[g.id]
		bySeq := func(seq uint64) time.Time {
			for i := range rs {
				if rs[i].seq == seq {
					return rs[i].appended
				}
			}
			return time.Time{}
		}
		around := func(seqs []uint64) string {
			evs := tl.around(bySeq(seqs[0]), bySeq(seqs[len(seqs)-1]))
			out := ""
			for _, e := range evs {
				out += "\n    " + e
			}
			return out
		}
		if f.acked == 0 {
			errorf("%s: nothing acknowledged: the run proved nothing", g.id)
		}
		if len(f.missing) > 0 {
			errorf("%s (%s broker): LOSS: %d acknowledged readings are not in InfluxDB: seqs %s (appended %s to %s); injected around then:%s",
				g.id, s.kind, len(f.missing), ranges(f.missing), bySeq(f.missing[0]).Format("15:04:05.000"),
				bySeq(f.missing[len(f.missing)-1]).Format("15:04:05.000"), around(f.missing))
		}
		if len(f.wrongValue) > 0 {
			errorf("%s: %d readings have another value in InfluxDB: seqs %s", g.id, len(f.wrongValue), ranges(f.wrongValue))
		}
		if f.extra > 0 {
			errorf("%s: %d points in InfluxDB that no accepted reading explains", g.id, f.extra)
		}
		if len(f.twinTwice) > 0 {
			errorf("%s: %d readings applied to the twin more than once: seqs %s%s", g.id, len(f.twinTwice), ranges(f.twinTwice), around(f.twinTwice))
		}
		if limit := ingestKills * batchMax; len(f.twinSkipped) > limit {
			errorf("%s: %d acknowledged readings never applied to the twin (seqs %s), more than one batch per ingest kill (%d kills)%s",
				g.id, len(f.twinSkipped), ranges(f.twinSkipped), ingestKills, around(f.twinSkipped))
		}
		if len(f.givenUp) > 0 {
			errorf("%s: ingest gave up %d sequence gaps", g.id, len(f.givenUp))
		}
		checked, misfits, examples := simCheck(t, gi+1, g.devices, recs[g.id], 10)
		t.Logf("%s: %d readings (every 10th) checked against the simulator's values: %d do not fit %v", g.id, checked, misfits, examples)
		if misfits > 0 || checked == 0 {
			errorf("%s: %d of %d readings checked do not fit the simulator's values: %v", g.id, misfits, checked, examples)
		}
		if len(f.segErrs) > 0 {
			errorf("%s: the ground truth may be incomplete: %v", g.id, f.segErrs)
		}
	}
}
