//go:build ha

package ha

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/internal/testenv"
)

// TestTwoInstancesThreeNodes is issue 14's system test (see the package
// doc): two ingest instances on a three-node cluster, twenty gateways, a
// NATS node and an instance killed under load and started again; every
// reading once in InfluxDB, in the applied stream and in each twin, both
// twins equal, and an SSE client resuming on the other instance misses
// nothing.
func TestTwoInstancesThreeNodes(t *testing.T) {
	s := startSystem(t)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()

	sse := &sseClient{s: s, changes: map[uint64][]string{}}
	sseCtx, sseStop := context.WithCancel(ctx)
	sseDone := make(chan struct{})
	go func() { defer close(sseDone); sse.follow(sseCtx, s.a) }()
	defer func() { sseStop(); <-sseDone }()

	l := startLoad(ctx, t, s)
	step := func(what string, f func()) {
		t.Helper()
		before := l.acked()
		at := time.Now()
		f()
		t.Logf("%6.1fs %s (acked %d readings)", time.Since(l.start).Seconds(), what, l.total())
		go func() {
			// A figure, not an assertion: how long until every gateway
			// still sending had an acknowledgement again.
			for ctx.Err() == nil {
				now, moved := l.acked(), true
				for i := range now {
					moved = moved && (now[i] > before[i] || now[i] >= perGW)
				}
				if moved {
					t.Logf("after %q: every gateway acknowledged again within %v", what, time.Since(at).Round(100*time.Millisecond))
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	waitLoad := func(secs float64) {
		testenv.Eventually(t, 5*time.Minute, fmt.Sprintf("the load at %.0fs", secs), func() bool {
			return time.Since(l.start).Seconds() >= secs
		})
	}
	victim := s.nats.Nodes[1]
	waitLoad(20)
	step("kill -9 NATS node "+victim.Name, victim.Kill)
	waitLoad(40)
	step("kill -9 ingest a", s.a.proc.Kill)
	waitLoad(60)
	step("start NATS node "+victim.Name, func() { victim.Start(t) })
	waitLoad(75)
	step("start ingest a", s.a.proc.Start)

	l.wg.Wait()
	elapsed := time.Since(l.start)
	if len(l.errs) > 0 {
		t.Fatalf("gateways did not finish: %v\ncluster:\n%.4000s", l.errs, s.nats.State())
	}
	t.Logf("all %d readings of %d gateways acknowledged in %v: %.0f readings/s through the cluster",
		gateways*perGW, gateways, elapsed.Round(time.Second), float64(gateways*perGW)/elapsed.Seconds())

	// Every reading once in InfluxDB.
	s.checkInflux(t, l)

	// Every reading once in the applied stream, the twins' only input.
	msgs := s.readApplied(t)
	readings := checkStream(t, l, msgs)
	t.Logf("applied stream: %d messages, %d readings", len(msgs), readings)

	// Each twin applied each message once: B since its start, A's second
	// incarnation after the snapshot it restored.
	snap := restoredAt(s.a.proc.Output())
	last := msgs[len(msgs)-1].seq
	afterSnap, readingsAfterSnap := 0, 0
	for _, m := range msgs {
		if m.seq > snap {
			afterSnap++
			readingsAfterSnap += len(m.batch.Readings)
		}
	}
	want := map[string][2]int{"b": {len(msgs), readings}, "a": {afterSnap, readingsAfterSnap}}
	var got map[string]map[string]float64
	ok := waitFor(60*time.Second, func() bool {
		got = map[string]map[string]float64{}
		for _, in := range []*instance{s.a, s.b} {
			m, err := in.metrics()
			if err != nil {
				return false
			}
			got[in.name] = m
		}
		return int(sum(got["b"], "ponte_ingest_replica_applied_total")) == want["b"][0] &&
			int(sum(got["a"], "ponte_ingest_replica_applied_total")) == want["a"][0]
	})
	for _, name := range []string{"a", "b"} {
		m := got[name]
		applied, skipped := sum(m, "ponte_ingest_replica_applied_total"), sum(m, "ponte_ingest_replica_skipped_total")
		twinReadings := sum(m, "ponte_twin_readings_total")
		t.Logf("instance %s: %v batches applied from the stream (want %d), %v skipped as already applied, %v readings given to the twin, gaps %v, published %v",
			name, applied, want[name][0], skipped, twinReadings, sum(m, "ponte_ingest_replica_gaps_total"), sum(m, "ponte_ingest_replica_published_total"))
		if int(applied) != want[name][0] || sum(m, "ponte_ingest_replica_gaps_total") != 0 || sum(m, "ponte_ingest_replica_corrupt_total") != 0 {
			t.Errorf("instance %s applied %v batches of the stream (want %d: the stream's %d after the snapshot at seq %d), gaps %v",
				name, applied, want[name][0], len(msgs), snap, sum(m, "ponte_ingest_replica_gaps_total"))
		}
	}
	if !ok {
		t.Logf("the twins did not reach the stream's end (seq %d) within a minute", last)
	}
	// B's twin, never restarted, was given every reading once.
	if n := sum(got["b"], "ponte_twin_readings_total"); int(n) != gateways*perGW {
		t.Errorf("instance b's twin was given %v readings, want %d (each once)", n, gateways*perGW)
	}
	t.Logf("published lines (%s) in the logs: a %d readings, b %d readings (a kill of a may cut its last short)",
		app.AppliedMsg, loggedReadings(s.a.proc), loggedReadings(s.b.proc))

	// Both twins equal, and equal to the readings.
	wantSites := expectedSites(l)
	sa, errA := s.sites(s.a)
	sb, errB := s.sites(s.b)
	if errA != nil || errB != nil {
		t.Fatalf("entities: %v, %v", errA, errB)
	}
	if d := diffSites(sa, sb); d != "" {
		t.Errorf("the twins' sites differ (a, then b):\n%s", d)
	}
	if d := missingReadings(sb, wantSites); d != "" {
		t.Errorf("instance b's sites do not show the latest readings:\n%s", d)
	}
	if len(sb) != gateways*devices {
		t.Errorf("instance b shows %d sites, want %d", len(sb), gateways*devices)
	}
	ia, errA := s.indicators(s.a)
	ib, errB := s.indicators(s.b)
	if errA != nil || errB != nil {
		t.Fatalf("indicators: %v, %v", errA, errB)
	}
	if !reflect.DeepEqual(ia, ib) {
		t.Errorf("the twins' indicators differ:\na: %v\nb: %v", ia, ib)
	}

	// The SSE client resumed on b and missed nothing.
	waitFor(30*time.Second, func() bool {
		sse.mu.Lock()
		defer sse.mu.Unlock()
		return sse.lastID>>20 >= last
	})
	sseStop()
	<-sseDone
	sse.mu.Lock()
	t.Logf("SSE: first change at stream seq %d, last ID %d (seq %d of %d), resumed %v, connection ends %v",
		sse.first, sse.lastID, sse.lastID>>20, last, sse.resumes, sse.errs)
	resyncs, first, resumes := sse.resyncs, sse.first, len(sse.resumes)
	sse.mu.Unlock()
	if resyncs > 0 {
		t.Errorf("the SSE client was told to resync %d times", resyncs)
	}
	if resumes == 0 || first == 0 {
		t.Errorf("the SSE client never resumed (%d) or saw no change (first %d)", resumes, first)
	}
	if m := sse.missed(expectedChanges(msgs), last); len(m) > 0 {
		t.Errorf("the SSE client missed %d site changes:\n%s", len(m), strings.Join(m[:min(len(m), 30)], "\n"))
	}
}

var restoredRe = regexp.MustCompile(`twin restored from its snapshot" .*applied=(\d+)`)

// restoredAt is the stream sequence of the snapshot an instance's log
// says it restored (0: none, it followed the whole stream).
func restoredAt(log string) uint64 {
	m := restoredRe.FindStringSubmatch(log)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}

var readingsRe = regexp.MustCompile(`readings=(\d+)`)

// loggedReadings sums the readings of the "twin applied" lines of every
// incarnation of p (published to the applied stream, with twin.replica).
func loggedReadings(p *testenv.Process) int {
	n := 0
	for _, line := range strings.Split(p.LogTail(1<<30), "\n") {
		if !strings.Contains(line, `msg="`+app.AppliedMsg+`"`) {
			continue
		}
		if m := readingsRe.FindStringSubmatch(line); m != nil {
			k, _ := strconv.Atoi(m[1])
			n += k
		}
	}
	return n
}

// waitFor polls cond until it holds or within passed; the caller judges
// what it finds either way (the failure message then has the figures).
func waitFor(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
	return true
}
