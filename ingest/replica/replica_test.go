package replica_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin"
)

// publish has instance in publish batches from..to-1 of gw.
func publish(in *instance, gw string, from, to int, base time.Time) {
	for i := from; i < to; i++ {
		in.r.Apply(gw, 1, batch(gw, i, base))
	}
}

// pm10Seen collects, per air site, the pm10 values a subscriber saw.
type pm10Seen map[string]map[float64]bool

func (s pm10Seen) add(c twin.Change) {
	if c.Entity.Kind != twin.KindSite || c.Entity.Category != "air" {
		return
	}
	a, ok := c.Entity.Attrs["pm10"]
	if !ok {
		return
	}
	if s[c.Entity.ID] == nil {
		s[c.Entity.ID] = map[float64]bool{}
	}
	s[c.Entity.ID][a.Value.(float64)] = true
}

// TestTwinsConverge: two instances publish interleaved batches of four
// gateways; both twins, fed only through the applied stream, end with
// equal sites and indicators and count every reading once. A subscriber
// of instance A resumes on instance B with its last Seq and sees every
// pm10 value of every site. A third instance started later rebuilds from
// the snapshot plus the stream after it and equals the others.
func TestTwinsConverge(t *testing.T) {
	c := natstest.Start(t, natstest.Options{Nodes: 3})
	a, b := start(t, c, "a"), start(t, c, "b")
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	const perGateway = 30

	// The subscriber follows A for the first half of the stream.
	seen := pm10Seen{}
	chA, unsubA := a.tw.Subscribe(twin.Filter{}, 0)
	var last uint64
	half := uint64(len(gateways) * perGateway / 2)

	var wg sync.WaitGroup
	for g, gw := range gateways {
		in := a
		if g%2 == 1 {
			in = b
		}
		wg.Add(1)
		go func() { defer wg.Done(); publish(in, gw, 0, perGateway, base) }()
	}
	for last>>twin.SeqShift < half {
		select {
		case ch := <-chA:
			seen.add(ch)
			last = ch.Seq
		case <-time.After(time.Minute):
			t.Fatalf("subscriber of A: no change after Seq %d", last)
		}
	}
	unsubA()
	// ... and resumes on B.
	chB, unsubB := b.tw.Subscribe(twin.Filter{}, last)
	defer unsubB()
	wg.Wait()

	total := uint64(len(gateways) * perGateway)
	for _, in := range []*instance{a, b} {
		testenv.Eventually(t, time.Minute, "every batch applied", func() bool { return in.tw.Applied() == total })
	}
	drain(t, chB, b.tw.LastSeq(), seen)
	for _, gw := range gateways {
		for d := range devices - 1 {
			id := "urn:ngsi-ld:AirQualityObserved:" + gw + ":d" + string(rune('0'+d))
			for i := range perGateway {
				if !seen[id][float64(i)] {
					t.Fatalf("subscriber resumed on B after Seq %d missed %s pm10=%d (saw %v)", last, id, i, seen[id])
				}
			}
		}
	}

	want := float64(total * devices)
	for name, in := range map[string]*instance{"a": a, "b": b} {
		if good, late := readings(in.reg); good != want || late != 0 {
			t.Errorf("twin %s: %v good and %v late readings, want %v and 0", name, good, late, want)
		}
	}
	sa, sb := state(t, a.tw), state(t, b.tw)
	if sa != sb {
		t.Fatalf("twins differ:\nA %s\nB %s", sa, sb)
	}

	// A snapshot, more batches, then a new instance.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snap, err := a.r.WriteSnapshot(ctx, a.tw)
	if err != nil || snap != total {
		t.Fatalf("snapshot covers %d (%v), want %d", snap, err, total)
	}
	publish(b, gateways[0], perGateway, perGateway+10, base)
	cIn := start(t, c, "c")
	testenv.Eventually(t, time.Minute, "instances a and c at the stream's end", func() bool {
		return a.tw.Applied() == total+10 && cIn.tw.Applied() == total+10
	})
	if n := counter(cIn.reg, "ponte_ingest_replica_applied_total"); n != 10 {
		t.Errorf("instance c applied %v batches from the stream, want 10 (the rest from the snapshot)", n)
	}
	if sa, sc := state(t, a.tw), state(t, cIn.tw); sa != sc {
		t.Fatalf("rebuilt twin differs:\nA %s\nC %s", sa, sc)
	}
}

// drain reads ch into seen until it has a change with Seq >= upto.
func drain(t *testing.T, ch <-chan twin.Change, upto uint64, seen pm10Seen) {
	t.Helper()
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				t.Fatal("subscriber dropped")
			}
			if c.Seq == 0 {
				t.Fatal("resume on the other instance got a resync")
			}
			seen.add(c)
			if c.Seq >= upto {
				return
			}
		case <-time.After(time.Minute):
			t.Fatalf("no change up to %d", upto)
		}
	}
}
