package twin

import (
	"testing"
	"time"

	"github.com/ponte-city/ponte/wire"
)

// TestSharedSeq: the changes a replica makes once out of numbers before
// the next stream sequence share one Seq, and SharedSeq says so of it
// (caches keyed by Seq rely on it); the Seqs before are one change's.
func TestSharedSeq(t *testing.T) {
	tw, clk := newTwin(t, noiseSites(3))
	tw.Follow(0)
	tw.mu.Lock()
	tw.seq |= seqLow - 1 // one number left
	tw.mu.Unlock()
	sub, unsubscribe := tw.SubscribeBatches(Filter{}, 0)
	defer unsubscribe()
	for _, dev := range []string{"n0", "n1", "n2"} {
		tw.Apply("gw", 1, batch("gw", rd(dev, "LAeq", wire.Float(60), "dB", clk.Now())))
	}
	select {
	case <-sub.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("no changes")
	}
	got := sub.Take(nil)
	if len(got) < 3 {
		t.Fatalf("%d changes, want at least 3", len(got))
	}
	if SharedSeq(got[0].Seq - 1) {
		t.Errorf("Seq %d before the last number taken as shared", got[0].Seq-1)
	}
	for _, c := range got {
		if c.Seq != got[0].Seq || !SharedSeq(c.Seq) {
			t.Errorf("change %s at Seq %#x, want the shared %#x (SharedSeq %v)", c.Entity.ID, c.Seq, got[0].Seq, SharedSeq(c.Seq))
		}
	}
}
