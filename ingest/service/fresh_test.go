package service

import (
	"slices"
	"testing"

	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/wire"
)

// TestKeepFresh: keepFresh keeps the readings of the seqs the epoch does
// not record as written, in order, and returns the batch itself, not a
// copy, when it records none of them.
func TestKeepFresh(t *testing.T) {
	b := &wire.Batch{Gateway: "gw-1", Epoch: 7, Seqs: []uint64{1, 2, 3, 4, 5}}
	for _, s := range b.Seqs {
		b.Readings = append(b.Readings, wire.Reading{Device: "d", Point: "p", Value: wire.Int(int64(s))})
	}
	seqsOf := func(x *wire.Batch) []uint64 {
		var vs []uint64
		for _, r := range x.Readings {
			vs = append(vs, uint64(r.Value.Any().(int64)))
		}
		if !slices.Equal(vs, x.Seqs) {
			t.Fatalf("readings %v do not match seqs %v", vs, x.Seqs)
		}
		return x.Seqs
	}
	for _, c := range []struct {
		name string
		ep   dedup.Epoch
		want []uint64
	}{
		{"none written", dedup.Epoch{}, []uint64{1, 2, 3, 4, 5}},
		{"the first written", dedup.Epoch{Mark: 1}, []uint64{2, 3, 4, 5}},
		{"some ahead written", dedup.Epoch{Ahead: []dedup.Range{{First: 2, Last: 2}, {First: 4, Last: 5}}}, []uint64{1, 3}},
		{"all written", dedup.Epoch{Mark: 5}, nil},
	} {
		got := keepFresh(b, &c.ep)
		if s := seqsOf(got); !slices.Equal(s, c.want) {
			t.Errorf("%s: kept seqs %v, want %v", c.name, s, c.want)
		}
		if shared := got == b; shared != (len(c.want) == len(b.Seqs)) {
			t.Errorf("%s: batch shared %v, want it shared only when nothing was written", c.name, shared)
		}
		if got.Gateway != b.Gateway || got.Epoch != b.Epoch {
			t.Errorf("%s: kept batch of %q epoch %d, want %q epoch %d", c.name, got.Gateway, got.Epoch, b.Gateway, b.Epoch)
		}
	}
	if s := seqsOf(b); !slices.Equal(s, []uint64{1, 2, 3, 4, 5}) {
		t.Errorf("the batch itself changed: seqs %v", s)
	}
}
