package replica

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/wire"
)

// marks are the sequence numbers of each gateway and epoch whose readings
// the follower applied to the twin, kept with the ranges of package
// dedup. The applied stream holds a batch at least once: the service
// publishes before it commits its dedup state (a crash between the two
// must not leave a written batch unpublished, as the instance that redoes
// it would take it for a replay), so a batch redone after a crash or a
// lost compare-and-swap comes again, maybe cut differently. The follower
// applies only readings whose seq it has not applied.
//
// A message covers [Start, Last] of the batch it came from: a seq in that
// range that it does not carry was applied before (published by whoever
// recorded it, before recording it) or refused, never to be applied, so
// the whole range is marked. Retained (the gateway's lowest held seq)
// closes gaps the gateway will never fill.
type marks map[string]dedup.Gateway

const (
	// maxMarkEpochs is how many epochs per gateway are remembered (the
	// latest seen); the dedup state keeps 4 by default.
	maxMarkEpochs = 8
	// maxMarkRanges bounds an epoch's ranges beyond a gap (the encoding
	// holds 255); past it the oldest gap is taken as closed.
	maxMarkRanges = 200
)

// take returns the readings of b not applied yet (b itself when all are
// fresh, nil when none is) and marks b's range as applied.
func (m marks) take(b *wire.Batch, now time.Time, log *slog.Logger) (fresh *wire.Batch, dups int) {
	g := m[b.Gateway]
	if g == nil {
		g = dedup.Gateway{}
		m[b.Gateway] = g
	}
	ep := g[b.Epoch]
	if ep == nil {
		ep = &dedup.Epoch{}
		g[b.Epoch] = ep
	}
	fresh = b
	for i, seq := range b.Seqs {
		if !ep.Written(seq) {
			if fresh != b {
				fresh.Seqs = append(fresh.Seqs, seq)
				fresh.Readings = append(fresh.Readings, b.Readings[i])
			}
			continue
		}
		dups++
		if fresh == b { // the first duplicate: copy what came before it
			fresh = &wire.Batch{Gateway: b.Gateway, Epoch: b.Epoch, From: b.From, Retained: b.Retained,
				Seqs: append([]uint64(nil), b.Seqs[:i]...), Readings: append([]wire.Reading(nil), b.Readings[:i]...)}
		}
	}
	if len(b.Seqs) > 0 {
		ep.Add(b.Start(), b.Last(), b.Retained, now)
	}
	for len(ep.Ahead) > maxMarkRanges {
		log.Warn("replica: too many gaps in a gateway's applied seqs; the oldest is taken as closed",
			"gateway", b.Gateway, "epoch", b.Epoch, "from", ep.Mark+1, "to", ep.Ahead[0].First-1)
		ep.Mark, ep.Ahead = ep.Ahead[0].Last, ep.Ahead[1:]
	}
	g.Prune(maxMarkEpochs, nil)
	if len(fresh.Seqs) == 0 {
		return nil, dups
	}
	return fresh, dups
}

// encode writes the marks: count uvarint, then per gateway (sorted) its
// ID and its dedup.Gateway record, each with a uvarint length.
func (m marks) encode() []byte {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	dst := binary.AppendUvarint(nil, uint64(len(ids)))
	var rec []byte
	for _, id := range ids {
		rec = m[id].AppendBinary(rec[:0])
		dst = binary.AppendUvarint(dst, uint64(len(id)))
		dst = append(dst, id...)
		dst = binary.AppendUvarint(dst, uint64(len(rec)))
		dst = append(dst, rec...)
	}
	return dst
}

// decodeMarks reads what encode wrote (empty input: no marks).
func decodeMarks(b []byte) (marks, error) {
	m := marks{}
	if len(b) == 0 {
		return m, nil
	}
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, fmt.Errorf("marks: count")
	}
	b = b[n:]
	field := func(what string, i uint64) ([]byte, error) {
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, fmt.Errorf("marks[%d]: %s length beyond the %d bytes left", i, what, len(b)-max(n, 0))
		}
		f := b[n : n+int(size)]
		b = b[n+int(size):]
		return f, nil
	}
	for i := range count {
		id, err := field("gateway", i)
		if err != nil {
			return nil, err
		}
		rec, err := field("record", i)
		if err != nil {
			return nil, err
		}
		g, err := dedup.ParseGateway(rec)
		if err != nil {
			return nil, fmt.Errorf("marks[%d] (gateway %s): %w", i, id, err)
		}
		m[string(id)] = g
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("marks: %d bytes after the last gateway", len(b))
	}
	return m, nil
}
