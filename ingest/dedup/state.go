package dedup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Range is a run of written sequence numbers, both ends included.
type Range struct{ First, Last uint64 }

// Epoch is the state of one (gateway, epoch).
type Epoch struct {
	// Mark is the highest seq up to which every seq is written, or was
	// declared dropped by the gateway.
	Mark uint64
	// Ahead are written ranges beyond a gap, sorted, disjoint, not
	// touching Mark+1.
	Ahead []Range
	// GapSince is when the gap after Mark was first seen (zero: no gap).
	// It is for people (metrics, status): no gap is ever given up on a
	// timer.
	GapSince time.Time
	// Seen is when the epoch was last advanced (for pruning).
	Seen time.Time
}

// Written reports whether seq is already written.
func (e *Epoch) Written(seq uint64) bool {
	if seq <= e.Mark {
		return true
	}
	for _, r := range e.Ahead {
		if seq >= r.First && seq <= r.Last {
			return true
		}
	}
	return false
}

// Missing returns how many seqs between Mark and the last written range
// are not written: the readings an open gap waits for.
func (e *Epoch) Missing() uint64 {
	var n uint64
	at := e.Mark
	for _, r := range e.Ahead {
		n += r.First - at - 1
		at = r.Last
	}
	return n
}

// Add records [start, last] as written at now, then releases what the
// gateway declared it no longer holds (retained, see Release), and moves
// Mark as far as the written seqs reach. It returns the seqs moved over
// because the gateway dropped them.
func (e *Epoch) Add(start, last, retained uint64, now time.Time) (dropped uint64) {
	if last >= start && last > e.Mark {
		e.Ahead = append(e.Ahead, Range{max(start, e.Mark+1), last})
	}
	e.Seen = now
	dropped = e.release(retained)
	e.settle(now)
	return dropped
}

// Release moves Mark to retained-1 when the gateway declares that it
// holds nothing below retained (0: not stated): seqs below it that are
// not written will never come, so an acknowledgement may cover them. It
// returns how many such seqs were moved over.
func (e *Epoch) Release(retained uint64, now time.Time) (dropped uint64) {
	dropped = e.release(retained)
	if dropped > 0 || retained > e.Mark+1 {
		e.Seen = now
	}
	e.settle(now)
	return dropped
}

func (e *Epoch) release(retained uint64) (dropped uint64) {
	if retained <= e.Mark+1 {
		return 0
	}
	to := retained - 1
	dropped = to - e.Mark
	for _, r := range e.Ahead {
		if r.First > to {
			break
		}
		dropped -= min(r.Last, to) - r.First + 1
	}
	e.Mark = to
	return dropped
}

// Fits reports whether recording [start, last] with retained keeps at
// most maxRanges ranges beyond the gap. A batch that does not fit is not
// written now: the gateway sends it again once the gap before it filled.
func (e *Epoch) Fits(start, last, retained uint64, maxRanges int) bool {
	if len(e.Ahead) < maxRanges {
		return true // a batch adds one range at most
	}
	c := Epoch{Mark: e.Mark, Ahead: append([]Range(nil), e.Ahead...)}
	c.Add(start, last, retained, time.Time{})
	return len(c.Ahead) <= maxRanges
}

// settle merges the ranges into Mark and keeps GapSince: set while a gap
// is open, restarted when Mark moves past one gap to the next.
func (e *Epoch) settle(now time.Time) {
	mark := e.Mark
	e.merge()
	switch {
	case len(e.Ahead) == 0:
		e.GapSince = time.Time{}
		e.Ahead = nil
	case e.GapSince.IsZero() || e.Mark != mark:
		e.GapSince = now
	}
}

// merge sorts and joins the ranges and moves Mark over those it reaches.
func (e *Epoch) merge() {
	sort.Slice(e.Ahead, func(i, j int) bool { return e.Ahead[i].First < e.Ahead[j].First })
	out := e.Ahead[:0]
	for _, r := range e.Ahead {
		if r.Last <= e.Mark {
			continue
		}
		if r.First <= e.Mark+1 {
			e.Mark = r.Last
			continue
		}
		if n := len(out); n > 0 && r.First <= out[n-1].Last+1 {
			out[n-1].Last = max(out[n-1].Last, r.Last)
			continue
		}
		out = append(out, r)
	}
	// Mark may have moved over ranges appended before it moved.
	e.Ahead = out
	for len(e.Ahead) > 0 && e.Ahead[0].First <= e.Mark+1 {
		e.Mark = max(e.Mark, e.Ahead[0].Last)
		e.Ahead = e.Ahead[1:]
	}
}

// Gateway is the state of one gateway: its recent epochs.
type Gateway map[uint64]*Epoch

// encoding of a Gateway, in one slot:
//
//	n u8 | n x (epoch u64, mark u64, gap_since i64 ns, seen i64 ns, k u8, k x (first u64, last u64))
func (g Gateway) appendTo(dst []byte) []byte {
	epochs := make([]uint64, 0, len(g))
	for e := range g {
		epochs = append(epochs, e)
	}
	sort.Slice(epochs, func(i, j int) bool { return epochs[i] < epochs[j] })
	dst = append(dst, byte(len(epochs)))
	for _, id := range epochs {
		e := g[id]
		dst = binary.LittleEndian.AppendUint64(dst, id)
		dst = binary.LittleEndian.AppendUint64(dst, e.Mark)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(unixNano(e.GapSince)))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(unixNano(e.Seen)))
		dst = append(dst, byte(len(e.Ahead)))
		for _, r := range e.Ahead {
			dst = binary.LittleEndian.AppendUint64(dst, r.First)
			dst = binary.LittleEndian.AppendUint64(dst, r.Last)
		}
	}
	return dst
}

// Prune keeps the max most recently advanced epochs of g (by Seen),
// calling forget (if not nil) with each other one before deleting it.
func (g Gateway) Prune(max int, forget func(id uint64, e *Epoch)) {
	if len(g) <= max {
		return
	}
	ids := make([]uint64, 0, len(g))
	for id := range g {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return g[ids[i]].Seen.After(g[ids[j]].Seen) })
	for _, id := range ids[max:] {
		if forget != nil {
			forget(id, g[id])
		}
		delete(g, id)
	}
}

// AppendBinary appends g's encoding (that of the state's records) to
// dst, for a keeper of the state other than a Store.
func (g Gateway) AppendBinary(dst []byte) []byte { return g.appendTo(dst) }

// ParseGateway decodes what AppendBinary wrote.
func ParseGateway(b []byte) (Gateway, error) { return parseGateway(b) }

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeOf(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

var errShort = errors.New("state record cut short")

func parseGateway(b []byte) (Gateway, error) {
	g := Gateway{}
	if len(b) < 1 {
		return nil, errShort
	}
	n := int(b[0])
	b = b[1:]
	for i := 0; i < n; i++ {
		if len(b) < 33 {
			return nil, errShort
		}
		id := binary.LittleEndian.Uint64(b)
		e := &Epoch{
			Mark:     binary.LittleEndian.Uint64(b[8:]),
			GapSince: timeOf(int64(binary.LittleEndian.Uint64(b[16:]))),
			Seen:     timeOf(int64(binary.LittleEndian.Uint64(b[24:]))),
		}
		k := int(b[32])
		b = b[33:]
		if len(b) < 16*k {
			return nil, errShort
		}
		for j := 0; j < k; j++ {
			e.Ahead = append(e.Ahead, Range{binary.LittleEndian.Uint64(b[16*j:]), binary.LittleEndian.Uint64(b[16*j+8:])})
		}
		b = b[16*k:]
		g[id] = e
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes after the last epoch", len(b))
	}
	return g, nil
}
