package replica

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// follow applies the stream to tw until ctx is done. A consumer that
// fails is made again from the sequence after tw's latest.
func (r *Replica) follow(ctx context.Context, tw *twin.Twin) {
	for n := 0; ctx.Err() == nil; n++ {
		err := r.consume(ctx, tw)
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("replica: following the applied stream failed; starting again", "applied", tw.Applied(), "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry.Wait(n)):
		}
	}
}

// consume runs one ordered consumer from after tw's latest applied
// sequence (or from the start of the window when none).
func (r *Replica) consume(ctx context.Context, tw *twin.Twin) error {
	applied := tw.Applied()
	cc := jetstream.OrderedConsumerConfig{}
	if applied > 0 {
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, applied+1
	} else {
		from := time.Now().Add(-r.cfg.Window)
		cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverByStartTimePolicy, &from
	}
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	cons, err := r.js.OrderedConsumer(octx, r.cfg.Stream, cc)
	cancel()
	if err != nil {
		return err
	}
	if applied == 0 {
		// Nothing to catch up with if the window holds nothing.
		ictx, cancel := context.WithTimeout(ctx, opTimeout)
		info, err := cons.Info(ictx)
		cancel()
		if err == nil && info.NumPending == 0 {
			r.markCaughtUp(applied)
		}
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	first := true
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				return err
			}
			r.log.Debug("replica: applied stream", "err", err)
			continue
		}
		meta, err := msg.Metadata()
		if err != nil {
			r.m.corrupt.Inc()
			continue
		}
		seq := meta.Sequence.Stream
		if first && applied > 0 && seq > applied+1 {
			r.m.gaps.Inc()
			r.log.Error("replica: the applied stream no longer holds the batches after the twin's snapshot; the twin misses them",
				"snapshot", applied, "first", seq)
		}
		first = false
		r.apply(tw, twin.StreamPos{Seq: seq, Last: seq + meta.NumPending, At: meta.Timestamp}, msg.Data())
		r.m.pending.Set(float64(meta.NumPending))
		if meta.NumPending == 0 {
			r.markCaughtUp(seq)
		}
	}
}

// apply decodes one message and applies it to tw.
func (r *Replica) apply(tw *twin.Twin, pos twin.StreamPos, data []byte) {
	b, err := wire.Decode(data)
	if err != nil {
		r.m.corrupt.Inc()
		r.log.Error("replica: a message of the applied stream does not decode; skipped", "seq", pos.Seq, "err", err)
		tw.ApplyAt(pos, "", nil) // its sequence is passed all the same
		return
	}
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	fresh, dups := r.marks.take(b, pos.At, r.log)
	if dups > 0 {
		r.m.duplicates.Add(float64(dups))
	}
	if fresh == nil {
		tw.ApplyAt(pos, "", nil) // its sequence is passed all the same
		r.m.skipped.Inc()
		return
	}
	if tw.ApplyAt(pos, b.Gateway, fresh) {
		r.m.applied.Inc()
	} else {
		r.m.skipped.Inc()
	}
}

func (r *Replica) markCaughtUp(seq uint64) {
	r.caughtUpOnce.Do(func() {
		r.log.Info("replica: twin caught up with the applied stream", "seq", seq)
		close(r.caughtUp)
	})
}
