package twin

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/wire"
)

// noiseSites are n noise sites of one gateway at the Duomo.
func noiseSites(n int) []Site {
	out := make([]Site, n)
	for i := range out {
		out[i] = siteAt("gw", fmt.Sprintf("n%d", i), "noise", duomo)
	}
	return out
}

func TestSubscribeResume(t *testing.T) {
	tw, clk := newTwin(t, append(noiseSites(3), siteAt("gw-ba", "bay", "parking", aldoMoro)), func(c *Config) { c.History = 8 })
	first := tw.LastSeq()
	if first != uint64(t0.UnixMicro()) {
		t.Errorf("first seq %d, want the clock's microseconds %d", first, t0.UnixMicro())
	}
	// Three readings: three site changes; the first also makes the
	// gateway and the area fresh.
	for i := 0; i < 3; i++ {
		tw.Apply("gw", 1, batch("gw", rd(fmt.Sprintf("n%d", i), "LAeq", wire.Float(60+float64(i)), "dB", t0)))
	}
	last := tw.LastSeq()
	if last-first != 5 {
		t.Fatalf("%d changes, want 5 (3 sites, the gateway, the area)", last-first)
	}
	t.Run("resume", func(t *testing.T) {
		ch, unsub := tw.Subscribe(Filter{Types: []string{"NoiseLevelObserved"}}, first)
		defer unsub()
		got := drain(ch, 3, time.Second)
		if len(got) != 3 {
			t.Fatalf("got %d changes, want the 3 site changes", len(got))
		}
		for i, c := range got {
			if c.Seq <= first || c.Entity.Type != "NoiseLevelObserved" || (i > 0 && c.Seq <= got[i-1].Seq) {
				t.Errorf("change %d: seq %d type %s", i, c.Seq, c.Entity.Type)
			}
		}
		if got[2].Entity.Attrs["LAeq"].Value != 62.0 {
			t.Errorf("last change LAeq %v, want 62", got[2].Entity.Attrs["LAeq"].Value)
		}
		// Live changes follow.
		clk.Set(t0.Add(time.Second))
		tw.Apply("gw", 2, batch("gw", rd("n0", "LAeq", wire.Float(70), "dB", clk.Now())))
		live := drain(ch, 1, time.Second)
		if len(live) != 1 || live[0].Seq != tw.LastSeq() {
			t.Errorf("live: %v, want one change with the last seq", live)
		}
	})
	t.Run("up to date", func(t *testing.T) {
		ch, unsub := tw.Subscribe(Filter{}, tw.LastSeq())
		defer unsub()
		if got := drain(ch, 1, 100*time.Millisecond); len(got) != 0 {
			t.Errorf("got %v, want nothing", got)
		}
	})
	t.Run("too old", func(t *testing.T) {
		for i := 0; i < 10; i++ { // more than History
			clk.Set(clk.Now().Add(time.Second))
			tw.Apply("gw", 3, batch("gw", rd("n1", "LAeq", wire.Float(50+float64(i)), "dB", clk.Now())))
		}
		ch, unsub := tw.Subscribe(Filter{}, first+1)
		defer unsub()
		got := drain(ch, 1, time.Second)
		if len(got) != 1 || got[0].Seq != 0 || got[0].Entity.ID != "" {
			t.Errorf("got %v, want one resync (Seq 0)", got)
		}
	})
	t.Run("from another run", func(t *testing.T) {
		ch, unsub := tw.Subscribe(Filter{}, tw.LastSeq()+1000)
		defer unsub()
		if got := drain(ch, 1, time.Second); len(got) != 1 || got[0].Seq != 0 {
			t.Errorf("got %v, want a resync", got)
		}
	})
	t.Run("bbox filter", func(t *testing.T) {
		bari := orb.Bound{Min: orb.Point{16.8, 41.0}, Max: orb.Point{16.95, 41.2}}
		ch, unsub := tw.Subscribe(Filter{Bound: &bari}, 0)
		defer unsub()
		tw.Apply("gw", 4, batch("gw", rd("n2", "LAeq", wire.Float(55), "dB", clk.Now())))
		tw.Apply("gw-ba", 1, batch("gw-ba", rd("bay", "occupied", wire.Bool(true), "", clk.Now())))
		for _, c := range drain(ch, 10, 300*time.Millisecond) {
			if !intersects(bari, c.Entity.Geometry.Bound()) {
				t.Errorf("change of %s outside the bbox", c.Entity.ID)
			}
			if c.Entity.ID == "urn:ngsi-ld:ParkingSpot:gw-ba:bay" {
				return
			}
		}
		t.Error("no change of the bay in Bari")
	})
	t.Run("unsubscribe closes", func(t *testing.T) {
		ch, unsub := tw.Subscribe(Filter{}, 0)
		unsub()
		unsub()
		select {
		case _, ok := <-ch:
			if ok {
				// a change may have been queued; the channel must still close
				for range drain(ch, 1000, time.Second) {
				}
			}
		case <-time.After(5 * time.Second):
			t.Fatal("channel not closed after unsubscribe")
		}
	})
}

func TestSlowSubscriberDropped(t *testing.T) {
	tw, clk := newTwin(t, noiseSites(1), func(c *Config) { c.SubscriberQueue = 4 })
	slow, unsubSlow := tw.Subscribe(Filter{}, 0)
	defer unsubSlow()
	fast, unsubFast := tw.Subscribe(Filter{}, 0)
	defer unsubFast()
	var got atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range fast {
			got.Add(1)
		}
	}()
	// The slow reader never reads: its 64-change channel and its queue of 4
	// fill, and it is dropped. The fast one keeps up (each Apply waits for it).
	for i := 0; i < 200; i++ {
		clk.Set(clk.Now().Add(time.Second))
		tw.Apply("gw", 1, batch("gw", rd("n0", "LAeq", wire.Float(float64(i)), "dB", clk.Now())))
		testenv.Eventually(t, 10*time.Second, "the fast subscriber keeping up", func() bool { return tw.queued(fast) == 0 })
	}
	unsubFast()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("fast channel not closed after unsubscribe")
	}
	if got.Load() < 200 {
		t.Errorf("fast subscriber got %d changes, want at least 200", got.Load())
	}
	n := 0
	for range slow { // must end: the channel is closed
		n++
		if n > 1000 {
			t.Fatal("slow channel not closed")
		}
	}
	if n >= 200 {
		t.Errorf("slow subscriber got all %d changes", n)
	}
}

// queued reports how many changes wait for the subscriber whose channel
// is ch, in the log, its pump or its channel (0 when it is gone).
func (t *Twin) queued(ch <-chan Change) int {
	t.mu.RLock()
	end := t.fan.tail.end
	t.mu.RUnlock()
	t.fan.subMu.Lock()
	defer t.fan.subMu.Unlock()
	for s := range t.subs {
		if (<-chan Change)(s.out) == ch {
			return max(0, int(int64(end)-int64(s.taken.Load()))) + int(s.held.Load()) + len(s.out)
		}
	}
	return 0
}

func TestConcurrentApplyReadSubscribe(t *testing.T) {
	tw, clk := newTwin(t, noiseSites(50))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				tw.Apply("gw", 1, batch("gw", rd(fmt.Sprintf("n%d", (i+w)%50), "LAeq", wire.Float(float64(50+i%30)), "dB", clk.Now().Add(time.Duration(i)*time.Millisecond))))
			}
		}(w)
	}
	wg.Add(3)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			b := orb.Bound{Min: orb.Point{11.2, 43.7}, Max: orb.Point{11.3, 43.8}}
			es := tw.Entities(Filter{Bound: &b})
			for _, e := range es {
				_ = len(e.Attrs)
			}
			_ = tw.Indicators()
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			ch, unsub := tw.Subscribe(Filter{Types: []string{"site"}}, tw.LastSeq()-5)
			drain(ch, 10, 10*time.Millisecond)
			unsub()
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			tw.Tick(clk.Now().Add(time.Duration(i) * time.Minute))
			tw.SetGatewayState("gw", i%2 == 0, clk.Now())
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		close(stop)
		t.Fatal("concurrent work did not finish")
	}
	// The incremental sums equal a rebuild from the contributions.
	tw.mu.Lock()
	inc := tw.city
	tw.resum()
	re := tw.city
	tw.mu.Unlock()
	if inc.noiseN != re.noiseN || !near(inc.noiseEnergy, re.noiseEnergy) {
		t.Errorf("incremental %d %v, rebuilt %d %v", inc.noiseN, inc.noiseEnergy, re.noiseN, re.noiseEnergy)
	}
}

func TestEntitiesFilter(t *testing.T) {
	tw, _ := newTwin(t, []Site{siteAt("gw", "n", "noise", duomo), siteAt("gw-ba", "bay", "parking", aldoMoro)})
	firenze := orb.Bound{Min: orb.Point{11.25, 43.77}, Max: orb.Point{11.26, 43.78}}
	cases := []struct {
		name string
		f    Filter
		want []string
	}{
		{"type", Filter{Types: []string{"ParkingSpot"}}, []string{"urn:ngsi-ld:ParkingSpot:gw-ba:bay"}},
		{"kind", Filter{Types: []string{"gateway"}}, []string{"urn:ngsi-ld:Device:gw", "urn:ngsi-ld:Device:gw-ba"}},
		{"bbox and type", Filter{Bound: &firenze, Types: []string{"site", "RoadSegment"}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := tw.Entities(c.f)
			if c.want != nil {
				if len(got) != len(c.want) {
					t.Fatalf("got %d entities, want %v", len(got), c.want)
				}
				for i := range got {
					if got[i].ID != c.want[i] {
						t.Errorf("entity %d: %s, want %s", i, got[i].ID, c.want[i])
					}
				}
			}
			for i, e := range got {
				if i > 0 && e.ID <= got[i-1].ID {
					t.Errorf("not sorted by ID: %s after %s", e.ID, got[i-1].ID)
				}
				if c.f.Bound != nil && !intersects(*c.f.Bound, e.Geometry.Bound()) {
					t.Errorf("%s outside the bbox", e.ID)
				}
			}
		})
	}
	// The bbox over central Firenze holds the Duomo site and roads FI-01...
	got := tw.Entities(Filter{Bound: &firenze, Types: []string{"site", "RoadSegment"}})
	ids := map[string]bool{}
	for _, e := range got {
		ids[e.ID] = true
	}
	if !ids["urn:ngsi-ld:NoiseLevelObserved:gw:n"] || !ids["FI-01"] || ids["urn:ngsi-ld:ParkingSpot:gw-ba:bay"] {
		t.Errorf("bbox over Firenze: %v", ids)
	}
	// Every entity without a filter, and a brute-force check of the bbox.
	all := tw.Entities(Filter{})
	n := 0
	for _, e := range all {
		if intersects(firenze, e.Geometry.Bound()) && (e.Kind == KindSite || e.Type == "RoadSegment") {
			n++
		}
	}
	if n != len(got) {
		t.Errorf("bbox query %d, brute force %d", len(got), n)
	}
}

// TestResumeBeyondQueue: a resume with more retained changes to replay than
// a subscriber may queue gets a resync instead of a replay that would be
// dropped at once.
func TestResumeBeyondQueue(t *testing.T) {
	tw, clk := newTwin(t, noiseSites(1), func(c *Config) { c.History = 100; c.SubscriberQueue = 4 })
	first := tw.LastSeq()
	for i := 0; i < 10; i++ {
		clk.Set(t0.Add(time.Duration(i) * time.Second))
		tw.Apply("gw", uint64(i+1), batch("gw", rd("n0", "LAeq", wire.Float(60+float64(i)), "dB", clk.Now())))
	}
	ch, unsub := tw.Subscribe(Filter{}, first)
	defer unsub()
	got := drain(ch, 1, time.Second)
	if len(got) != 1 || got[0].Seq != 0 {
		t.Fatalf("first change %+v, want a resync (Seq 0)", got)
	}
	// A resume within the queue's reach replays.
	ch2, unsub2 := tw.Subscribe(Filter{}, tw.LastSeq()-2)
	defer unsub2()
	if got := drain(ch2, 2, time.Second); len(got) != 2 || got[0].Seq == 0 {
		t.Fatalf("short resume: %+v, want the 2 last changes", got)
	}
}

// TestSubscribeBatches: a batch subscription takes the matching changes in
// Seq order, as many as were made, and is dropped once it is more than
// SubscriberQueue changes of the twin (matching or not) behind, what it
// had not taken discarded.
func TestSubscribeBatches(t *testing.T) {
	tw, clk := newTwin(t, append(noiseSites(2), siteAt("gw-ba", "bay", "parking", aldoMoro)), func(c *Config) { c.SubscriberQueue = 24 })
	sub, unsubscribe := tw.SubscribeBatches(Filter{Types: []string{"NoiseLevelObserved"}}, 0)
	defer unsubscribe()
	ref, unsubRef := tw.Subscribe(Filter{Types: []string{"NoiseLevelObserved"}}, 0)
	defer unsubRef()
	apply := func(i int) {
		clk.Set(clk.Now().Add(time.Second))
		tw.Apply("gw", 1, batch("gw", rd("n0", "LAeq", wire.Float(float64(i)), "dB", clk.Now()),
			rd("n1", "LAeq", wire.Float(float64(i)), "dB", clk.Now())))
		tw.Apply("gw-ba", 1, batch("gw-ba", rd("bay", "occupied", wire.Bool(i%2 == 0), "", clk.Now())))
	}
	for i := range 3 {
		apply(i)
	}
	select {
	case <-sub.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("Ready not signalled")
	}
	got := sub.Take(nil)
	want := drain(ref, 6, 10*time.Second)
	if len(got) != 6 || len(want) != 6 {
		t.Fatalf("took %d changes, the channel %d; want 6 (two noise sites, three times; the parking bay filtered out)", len(got), len(want))
	}
	for i := range got {
		if got[i].Seq != want[i].Seq || got[i].Entity.ID != want[i].Entity.ID {
			t.Errorf("change %d: seq %d %s, the channel's %d %s", i, got[i].Seq, got[i].Entity.ID, want[i].Seq, want[i].Entity.ID)
		}
		if i > 0 && got[i].Seq <= got[i-1].Seq {
			t.Errorf("change %d: seq %d after %d", i, got[i].Seq, got[i-1].Seq)
		}
	}
	if again := sub.Take(got); len(again) != 0 {
		t.Errorf("a second Take found %d changes, want 0", len(again))
	}
	select {
	case <-sub.Dropped():
		t.Fatal("dropped while keeping up")
	default:
	}
	// Nobody takes: 24 changes behind, the subscription is dropped.
	for i := range 10 {
		apply(10 + i)
		drain(ref, 2, 10*time.Second)
	}
	select {
	case <-sub.Dropped():
	case <-time.After(10 * time.Second):
		t.Fatal("not dropped past SubscriberQueue")
	}
	if left := sub.Take(nil); len(left) != 0 {
		t.Errorf("%d changes left in a dropped subscription's queue", len(left))
	}
}

// TestFanoutConcurrentWriters: with writers applying at once, subscribers
// reading the change log as it grows and joining at any point (with a
// resume point or not), every subscriber gets every change
// after its resume point exactly once and in Seq order (Seqs of a twin
// that is not a replica are consecutive), up to the last.
func TestFanoutConcurrentWriters(t *testing.T) {
	const writers, joins = 4, 24
	var sites []Site
	for w := range writers {
		for d := range 4 {
			sites = append(sites, siteAt(fmt.Sprintf("gw%d", w), fmt.Sprintf("n%d", d), "noise", duomo))
		}
	}
	tw, clk := newTwin(t, sites, func(c *Config) { c.History = 1 << 16; c.SubscriberQueue = 1 << 16 })
	first := tw.LastSeq()
	var final atomic.Uint64 // set once the writers are done
	var joined atomic.Bool  // every subscriber has joined
	type result struct {
		after uint64 // resume point asked (0: from now)
		seqs  []uint64
	}
	results := make(chan result, joins)
	// collect reads changes with next until it has the final one.
	collect := func(after uint64, next func(wait time.Duration) []uint64, unsubscribe func()) {
		defer unsubscribe()
		r := result{after: after}
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
			r.seqs = append(r.seqs, next(10*time.Millisecond)...)
			if f := final.Load(); f != 0 && len(r.seqs) > 0 && r.seqs[len(r.seqs)-1] >= f {
				break
			}
		}
		results <- r
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			gw := fmt.Sprintf("gw%d", w)
			// They write until every subscriber has joined, and 100 more.
			for i, more := 0, 100; more > 0; i++ {
				if joined.Load() {
					more--
				}
				tw.Apply(gw, 1, batch(gw, rd(fmt.Sprintf("n%d", i%4), "LAeq", wire.Float(float64(w<<20+i)), "dB", clk.Now())))
			}
		})
	}
	// A resume goes up to 4 changes back: from before the twin's first
	// it would rightly get a resync (on a loaded machine the writers may
	// not have begun by the first join).
	testenv.Eventually(t, 10*time.Second, "the writers' first changes", func() bool { return tw.LastSeq() >= first+5 })
	var subs sync.WaitGroup
	for j := range joins {
		time.Sleep(time.Millisecond)
		after := uint64(0)
		if j%3 != 0 {
			after = tw.LastSeq() - uint64(j%5) // a resume, some changes back
		}
		if j%2 == 0 {
			sub, unsubscribe := tw.SubscribeBatches(Filter{}, after)
			var spare []*Change
			subs.Go(func() {
				collect(after, func(wait time.Duration) []uint64 {
					select {
					case <-sub.Ready():
					case <-time.After(wait):
					}
					spare = sub.Take(spare)
					var seqs []uint64
					for _, c := range spare {
						seqs = append(seqs, c.Seq)
					}
					clear(spare)
					spare = spare[:0]
					return seqs
				}, unsubscribe)
			})
		} else {
			ch, unsubscribe := tw.Subscribe(Filter{}, after)
			subs.Go(func() {
				collect(after, func(wait time.Duration) []uint64 {
					var seqs []uint64
					for _, c := range drain(ch, 64, wait) {
						seqs = append(seqs, c.Seq)
					}
					return seqs
				}, unsubscribe)
			})
		}
	}
	joined.Store(true)
	wg.Wait()
	final.Store(tw.LastSeq())
	subs.Wait()
	close(results)
	for r := range results {
		if len(r.seqs) == 0 {
			t.Errorf("resume from %d: no changes", r.after)
			continue
		}
		if r.after != 0 && r.seqs[0] != r.after+1 {
			t.Errorf("resume from %d: first change %d, want %d", r.after, r.seqs[0], r.after+1)
		}
		for i := 1; i < len(r.seqs); i++ {
			if r.seqs[i] != r.seqs[i-1]+1 {
				t.Errorf("resume from %d: change %d after %d (lost, repeated or out of order)", r.after, r.seqs[i], r.seqs[i-1])
				break
			}
		}
		if last := r.seqs[len(r.seqs)-1]; last != final.Load() {
			t.Errorf("resume from %d: last change %d, want %d", r.after, last, final.Load())
		}
	}
}
