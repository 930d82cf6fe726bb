package wire

import (
	"errors"
	"fmt"
	"time"
)

// Version is the newest batch format this package reads and writes.
// Decoders accept only the versions they know (1 to 3); a gateway newer
// than ingest gets its batches dead-lettered with ErrVersion rather than
// misread. Version 2 added Retained and From, with which a gateway
// declares what it will never send (see Batch); version 3 added Flags,
// with which it declares what it understands in acknowledgements. Encode
// writes the oldest version that carries the batch: version 2 while Flags
// is 0, so a gateway that asks for nothing new still talks to an ingest
// of version 2.
const Version = 3

// Batch flags (Batch.Flags): what the gateway understands, so that
// ingest may tell it more without breaking gateways that would refuse it.
const (
	// FlagAckRefused says the gateway's ack decoder knows Ack.Refused:
	// ingest may summarise, in the acknowledgement of the batch, the
	// readings of it that it refused (dead-lettered). Ingest sends plain
	// acks to gateways whose batches do not carry it.
	FlagAckRefused uint64 = 1 << 0
)

// minVersion is the oldest batch format Decode still reads.
const minVersion = 1

// MaxBatchBytes bounds an encoded batch (and so what a decoder will look
// at): 1 MiB keeps a batch within every broker's default packet limit and a
// mobile uplink's patience.
const MaxBatchBytes = 1 << 20

// Batch is a run of buffered readings from one gateway, as the uplink sends
// them and ingest acknowledges them.
type Batch struct {
	// Gateway is the sending gateway's ID; ingest checks it against the
	// topic (or HTTP credentials) it arrived on.
	Gateway string
	// Epoch identifies the gateway's buffer incarnation: sequence numbers
	// are unique only within one epoch.
	Epoch uint64
	// Retained is the lowest sequence number of Epoch the gateway's
	// buffer still holds when it frames the batch: every lower one was
	// acknowledged or dropped (the buffer's byte or age cap), and the
	// gateway will never send it. It is the only ground on which ingest
	// moves its acknowledgement past a sequence number it did not write.
	// 0: not stated (version-1 batches); ingest then waits for every gap
	// to be filled.
	Retained uint64
	// From is the first sequence number the batch covers, at most the
	// first reading's; the numbers from From up to the first reading's
	// are records the gateway skipped (undecodable, or dropped by a cap
	// while it read) and will never send. 0 means the first reading's.
	From uint64
	// Flags are FlagAckRefused and later flags (version 3 on; 0 in
	// older batches). Bits a decoder does not know are kept, not refused:
	// a flag only says what the gateway would understand, and an ingest
	// that knows nothing of it simply does not use it.
	Flags uint64
	// Seqs are the buffer sequence numbers of Readings, strictly
	// increasing (usually consecutive).
	Seqs []uint64
	// Readings are the readings, in buffer order.
	Readings []Reading
}

// First returns the first sequence number of the batch (0 if empty).
func (b *Batch) First() uint64 {
	if len(b.Seqs) == 0 {
		return 0
	}
	return b.Seqs[0]
}

// Start returns the first sequence number the batch covers: From, or the
// first reading's when From is not set (0 if empty).
func (b *Batch) Start() uint64 {
	if b.From != 0 && b.From < b.First() {
		return b.From
	}
	return b.First()
}

// Last returns the last sequence number of the batch (0 if empty).
func (b *Batch) Last() uint64 {
	if len(b.Seqs) == 0 {
		return 0
	}
	return b.Seqs[len(b.Seqs)-1]
}

// Validate checks what an encoder or a decoder cannot: consistent lengths,
// increasing sequence numbers, names present, times set.
func (b *Batch) Validate() error {
	if b.Gateway == "" {
		return fmt.Errorf("batch: gateway: %w", ErrEmpty)
	}
	if b.From != 0 && (len(b.Seqs) == 0 || b.From > b.Seqs[0]) {
		return fmt.Errorf("batch: from %d is after the first sequence number %d (expected at most it)", b.From, b.First())
	}
	if len(b.Seqs) != len(b.Readings) {
		return fmt.Errorf("batch: %d sequence numbers for %d readings", len(b.Seqs), len(b.Readings))
	}
	for i, s := range b.Seqs {
		if s == 0 || (i > 0 && s <= b.Seqs[i-1]) {
			return fmt.Errorf("batch: readings[%d]: sequence %d does not follow %d (expected strictly increasing from 1)", i, s, prev(b.Seqs, i))
		}
	}
	for i := range b.Readings {
		r := &b.Readings[i]
		switch {
		case r.Device == "":
			return fmt.Errorf("batch: readings[%d].device: %w", i, ErrEmpty)
		case r.Point == "":
			return fmt.Errorf("batch: readings[%d].point: %w", i, ErrEmpty)
		case r.Time.IsZero():
			return fmt.Errorf("batch: readings[%d].time: %w", i, ErrEmpty)
		case r.Value.Kind > KindString:
			return fmt.Errorf("batch: readings[%d].value: unknown kind %d", i, r.Value.Kind)
		}
	}
	return nil
}

func prev(s []uint64, i int) uint64 {
	if i == 0 {
		return 0
	}
	return s[i-1]
}

// Errors the decoder returns, for callers that dead-letter by reason.
var (
	ErrEmpty     = errors.New("required and empty")
	ErrVersion   = errors.New("unsupported batch version")
	ErrTooLarge  = errors.New("batch exceeds size limit")
	ErrCorrupt   = errors.New("corrupt batch")
	ErrTruncated = errors.New("truncated batch")
)

// timeOf converts unix nanoseconds back into a UTC time.
func timeOf(ns int64) time.Time { return time.Unix(0, ns).UTC() }
