package uplink

import (
	"errors"
	"fmt"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/wire"
)

// framed is one run of buffer records made ready to publish.
type framed struct {
	// from and to are the buffer sequence numbers the batch covers: from
	// the read cursor to the last record consumed. Records in between that
	// the batch does not carry (undecodable, or dropped by the buffer's
	// caps) are freed with the batch.
	from, to uint64
	// last is the last sequence number carried, 0 if every record was
	// undecodable (nothing to publish).
	last uint64
	// n is the number of readings carried.
	n int
	// payload is the encoded wire.Batch; nil when n is 0.
	payload []byte
}

// framer turns buffer records into encoded batches. It reuses its
// slices between calls, and the payloads handed back to release. Not safe
// for concurrent use.
type framer struct {
	gateway string
	epoch   uint64
	// flags are set on every batch (wire.Batch.Flags).
	flags uint64
	batch wire.Batch
	// bad is told about each record that does not decode as a reading.
	bad func(seq uint64, err error)
	// sizeHint is the last payload's size, to allocate the next at once.
	sizeHint int
	// names keeps one string per device, point and unit name across
	// batches: decoding allocated three per reading otherwise.
	names wire.Names
	// enc keeps its string table and references across batches.
	enc wire.Encoder
	// free holds payloads whose publish the broker acknowledged, for the
	// next batches (at most maxFreePayloads, maxFreeBytes in all).
	free      [][]byte
	freeBytes int
}

// Bounds on the payloads a framer keeps: the broker acknowledges a
// publish within a round trip, long before the next batch is framed (at
// 100k readings/s one goes out every 50 ms), so live forwarding reuses
// one or two; each kept payload is live heap, which the agent's memory
// limit leaves little of (see edge/agent's doc), and a replay's large
// ones are let go by shrink.
const (
	maxFreePayloads = 2
	maxFreeBytes    = 1 << 20
)

func newFramer(gateway string, epoch uint64, bad func(uint64, error)) *framer {
	return &framer{gateway: gateway, epoch: epoch, bad: bad}
}

// frame encodes records read from cursor on (recs non-empty, in order).
// retained is the lowest sequence number the buffer still holds, stated
// in the batch (wire.Batch.Retained). It consumes all of recs unless the
// encoding would pass wire.MaxBatchBytes, in which case it consumes a
// prefix: the caller reads on from the returned to+1.
func (fr *framer) frame(cursor, retained uint64, recs []buffer.Record) (framed, error) {
	if len(recs) == 0 {
		return framed{}, errors.New("frame: no records")
	}
	for {
		f, err := fr.encode(cursor, retained, recs)
		if errors.Is(err, wire.ErrTooLarge) && len(recs) > 1 {
			recs = recs[:len(recs)/2]
			continue
		}
		return f, err
	}
}

func (fr *framer) encode(cursor, retained uint64, recs []buffer.Record) (framed, error) {
	b := &fr.batch
	*b = wire.Batch{Gateway: fr.gateway, Epoch: fr.epoch, Retained: retained, Flags: fr.flags, Seqs: b.Seqs[:0], Readings: b.Readings[:0]}
	for _, rec := range recs {
		r, err := fr.names.DecodeRecord(rec.Data)
		if err == nil {
			err = checkReading(&r)
		}
		if err != nil {
			fr.bad(rec.Seq, err)
			continue
		}
		b.Seqs = append(b.Seqs, rec.Seq)
		b.Readings = append(b.Readings, r)
	}
	f := framed{from: recs[0].Seq, to: recs[len(recs)-1].Seq, n: len(b.Readings)}
	if cursor > 0 && cursor < f.from {
		f.from = cursor // the buffer skipped records (dropped by a cap)
	}
	if f.n == 0 {
		return f, nil
	}
	f.last = b.Last()
	if f.from < b.First() {
		// Records skipped before the first reading (undecodable, or
		// dropped by a cap): the batch covers them, so ingest does not
		// wait for them.
		b.From = f.from
	}
	payload, err := fr.enc.Encode(fr.payloadBuf(), b)
	clear(b.Readings) // drop the strings for the collector
	if err != nil {
		return framed{}, fmt.Errorf("frame records %d..%d: %w", recs[0].Seq, f.to, err)
	}
	fr.sizeHint = len(payload)
	f.payload = payload
	return f, nil
}

// payloadBuf returns an empty buffer for the next payload: a released
// one when there is one, else a fresh one a quarter larger than the last
// payload.
func (fr *framer) payloadBuf() []byte {
	if n := len(fr.free); n > 0 {
		p := fr.free[n-1]
		fr.free[n-1] = nil
		fr.free = fr.free[:n-1]
		fr.freeBytes -= cap(p)
		return p[:0]
	}
	return make([]byte, 0, max(fr.sizeHint+fr.sizeHint/4, 512))
}

// release hands back a payload of this framer for a later batch. The
// caller guarantees nothing refers to it any more: see sender.run, which
// releases a payload only when the broker's PUBACK completed its publish.
// A payload beyond the bounds is left to the collector.
func (fr *framer) release(p []byte) {
	if p == nil || len(fr.free) >= maxFreePayloads || fr.freeBytes+cap(p) > maxFreeBytes {
		return
	}
	fr.free = append(fr.free, p[:0])
	fr.freeBytes += cap(p)
}

// shrink lets go of what a replay's large batches grew beyond what live
// batches of at most readings readings and bytes record bytes need: the
// batch's slices, the encoder's tables and the larger kept payloads.
// After a replay they held about 300 bytes per reading of a replay batch,
// live heap the agent's memory limit then lacked for the collector's
// headroom for as long as the agent ran.
func (fr *framer) shrink(readings, bytes int) {
	if cap(fr.batch.Readings) > 2*readings || cap(fr.batch.Seqs) > 2*readings {
		fr.batch.Readings, fr.batch.Seqs = nil, nil
		fr.enc = wire.Encoder{}
	}
	fr.sizeHint = min(fr.sizeHint, bytes)
	kept := fr.free[:0]
	for _, p := range fr.free {
		if cap(p) > 2*bytes {
			fr.freeBytes -= cap(p)
			continue
		}
		kept = append(kept, p)
	}
	clear(fr.free[len(kept):])
	fr.free = kept
}

// checkReading checks what wire.Batch.Validate would refuse in a decoded
// record, so that one bad record is skipped rather than failing its batch.
func checkReading(r *wire.Reading) error {
	switch {
	case r.Device == "":
		return fmt.Errorf("reading: device: %w", wire.ErrEmpty)
	case r.Point == "":
		return fmt.Errorf("reading: point: %w", wire.ErrEmpty)
	case r.Time.IsZero():
		return fmt.Errorf("reading: time: %w", wire.ErrEmpty)
	case r.Value.Kind > wire.KindString:
		return fmt.Errorf("reading: value kind %d (expected float, int, bool or string)", r.Value.Kind)
	}
	return nil
}
