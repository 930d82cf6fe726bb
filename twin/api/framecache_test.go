package api

import (
	"bytes"
	"testing"

	"github.com/paulmach/orb"
	"github.com/ponte-city/ponte/twin"
)

// TestFrameCacheSharedSeq: a replica that ran out of Seq numbers between
// two applied batches gives its later changes one Seq (low SeqShift bits
// all ones, see twin/replica.go); each must still get its own frame, not
// the one of another entity cached under the same Seq (which could be an
// entity the stream's scope does not see).
func TestFrameCacheSharedSeq(t *testing.T) {
	c := newFrameCache(12)
	seq := uint64(7)<<twin.SeqShift | (1<<twin.SeqShift - 1)
	ent := func(id string) *twin.Change {
		return &twin.Change{Seq: seq, Entity: twin.Entity{ID: id, Type: "NoiseLevelObserved", Kind: twin.KindSite, Geometry: orb.Point{16.87, 41.12}}}
	}
	noAreas := func() areaLookup { return nil }
	a, b := ent("urn:ngsi-ld:NoiseLevelObserved:gw:a"), ent("urn:ngsi-ld:NoiseLevelObserved:gw:b")
	if fa := c.get(a, noAreas); !bytes.Contains(fa, []byte(a.Entity.ID)) {
		t.Fatalf("frame of a %q", fa)
	}
	if fb := c.get(b, noAreas); !bytes.Contains(fb, []byte(b.Entity.ID)) {
		t.Errorf("frame of b, sharing a's Seq, is %q", fb)
	}
	// A Seq of its own is still served from the cache.
	own := ent("urn:ngsi-ld:NoiseLevelObserved:gw:c")
	own.Seq = 7<<twin.SeqShift | 3
	if f1, f2 := c.get(own, noAreas), c.get(own, noAreas); &f1[0] != &f2[0] {
		t.Error("a change's frame encoded twice")
	}
}
