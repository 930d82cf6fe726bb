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
	// Mark is the highest seq up to which every seq is written.
	Mark uint64
	// Ahead are written ranges beyond a gap, sorted, disjoint, not
	// touching Mark+1.
	Ahead []Range
	// GapSince is when the gap after Mark was first seen (zero: no gap).
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

// Add records [first, last] as written at now and moves Mark as far as
// the written seqs reach. A gap open for gapTimeout or more is accepted,
// as is the oldest gap when more than maxRanges ranges would be kept; it
// returns the number of seqs given up that way.
func (e *Epoch) Add(first, last uint64, now time.Time, gapTimeout time.Duration, maxRanges int) (givenUp uint64) {
	e.resume(now, gapTimeout)
	if last >= first && last > e.Mark {
		e.Ahead = append(e.Ahead, Range{max(first, e.Mark+1), last})
	}
	e.Seen = now
	return e.settle(now, gapTimeout, maxRanges)
}

// Check accepts a gap that has been open for gapTimeout (see Add) without
// recording anything; it returns the seqs given up.
func (e *Epoch) Check(now time.Time, gapTimeout time.Duration, maxRanges int) uint64 {
	e.resume(now, gapTimeout)
	e.Seen = now
	return e.settle(now, gapTimeout, maxRanges)
}

// resume restarts the gap clock when the gateway comes back after a
// silence of gapTimeout or more. A gap is given up only after it stayed
// open that long while the gateway was sending: during an outage it could
// not resend what is missing, and after it the missing batch may reach
// another ingest instance a moment after the batches beyond the gap
// reached this one (a shared subscription splits a gateway's resends).
func (e *Epoch) resume(now time.Time, gapTimeout time.Duration) {
	if !e.GapSince.IsZero() && !e.Seen.IsZero() && now.Sub(e.Seen) >= gapTimeout {
		e.GapSince = now
	}
}

func (e *Epoch) settle(now time.Time, gapTimeout time.Duration, maxRanges int) (givenUp uint64) {
	e.merge()
	for len(e.Ahead) > 0 {
		if e.GapSince.IsZero() {
			e.GapSince = now
		}
		if now.Sub(e.GapSince) < gapTimeout && len(e.Ahead) <= maxRanges {
			break
		}
		givenUp += e.Ahead[0].First - e.Mark - 1
		e.Mark = e.Ahead[0].Last
		e.Ahead = e.Ahead[1:]
		e.GapSince = time.Time{}
		e.merge()
		if len(e.Ahead) > 0 {
			// The next gap starts its own clock.
			e.GapSince = now
		}
	}
	if len(e.Ahead) == 0 {
		e.GapSince = time.Time{}
		e.Ahead = nil
	}
	return givenUp
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
