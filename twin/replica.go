package twin

import (
	"time"

	"github.com/ponte-city/ponte/wire"
)

// A replicated twin (see the package doc, "Replicas") numbers its changes
// after the applied stream: the changes caused by the batch at stream
// sequence s are s<<SeqShift | 1, | 2, ...; the changes the twin makes
// on its own (freshness on Tick, gateway status, the inventory) continue
// the count of the latest batch, below the next batch's numbers.

// SeqShift is how many low bits of a replicated twin's Seq count the
// changes after one stream sequence (about a million).
const SeqShift = 20

const (
	seqLow     = 1<<SeqShift - 1 // the count within a stream sequence
	localStart = 1 << (SeqShift - 1)
)

// replica is the state of a twin fed from the applied stream.
type replica struct {
	on        bool
	applied   uint64 // stream sequence of the latest batch applied
	horizon   uint64 // latest stream sequence known to exist
	saturated uint64 // changes that had to share a Seq (count exhausted)
}

// StreamPos is where a batch lies in the applied stream.
type StreamPos struct {
	// Seq is its stream sequence (from 1).
	Seq uint64
	// Last is the stream's latest sequence known when it was read (Seq
	// plus the messages pending after it).
	Last uint64
	// At is when the stream stored it: the twin's clock for its changes
	// (last seen, groups' Updated), so that every replica derives the same
	// state from it.
	At time.Time
}

// Follow makes the twin a replica of the applied stream whose batches up
// to stream sequence applied it already holds (0: none): its changes are
// numbered after the stream from now on, and the changes it retained
// before are forgotten (a Subscribe from one of them gets a resync). Call
// it before serving subscribers; Restore calls it.
func (t *Twin) Follow(applied uint64) {
	t.mu.Lock()
	defer t.unlock()
	t.follow(applied)
}

func (t *Twin) follow(applied uint64) {
	t.rep = replica{on: true, applied: applied, horizon: max(t.rep.horizon, applied)}
	t.seq = applied<<SeqShift | localStart
	t.floor = t.seq
	clear(t.ring)
	t.ring, t.head, t.count = t.ring[:0], 0, 0
}

// ApplyAt applies the batch of gateway at stream position pos, as Apply
// does but at pos.At and with the changes numbered after pos.Seq. A batch
// at or before the latest one applied is ignored (false): the stream may
// deliver it again, and a reading must count once. A twin not yet
// following the stream starts to (Follow(0)).
func (t *Twin) ApplyAt(pos StreamPos, gateway string, b *wire.Batch) bool {
	t.mu.Lock()
	defer t.unlock()
	if !t.rep.on {
		t.follow(0)
	}
	t.rep.horizon = max(t.rep.horizon, pos.Last, pos.Seq)
	if pos.Seq <= t.rep.applied {
		return false
	}
	t.rep.applied = pos.Seq
	t.seq = max(t.seq, pos.Seq<<SeqShift)
	if b != nil && len(b.Readings) > 0 {
		t.apply(gateway, b, pos.At, true)
	}
	return true
}

// Applied returns the stream sequence of the latest batch applied by
// ApplyAt (or restored), 0 when none.
func (t *Twin) Applied() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.rep.applied
}

// Resumes reports whether Subscribe honours after although it is beyond
// LastSeq: the twin follows the applied stream, and after belongs to a
// stream sequence the stream holds but the twin has yet to apply (another
// replica issued it). The subscriber then gets the changes after it as
// they come.
func (t *Twin) Resumes(after uint64) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	after = t.resumePoint(after)
	return after <= t.seq || t.aheadLocked(after)
}

// resumePoint is where a resume from after starts, under t.mu: for a
// replica, the start of after's stream sequence. Another replica may have
// numbered the changes of one batch differently (its groups' freshness),
// but every replica makes the changes of the same batches in stream order,
// so replaying the whole batch again misses nothing; the duplicates are
// full entity states, harmless.
func (t *Twin) resumePoint(after uint64) uint64 {
	if !t.rep.on || after == 0 {
		return after
	}
	return max(after&^seqLow, 1)
}

// aheadSlack is how many stream sequences beyond the latest it knows of a
// replica still takes a resume point for: the twin learns the stream's
// end only from the messages it reads, so another instance may have
// applied (and streamed to a client) a batch this one has not heard of.
const aheadSlack = 4096

// aheadLocked reports, under t.mu, whether after (a resume point) lies in
// a stream sequence not yet applied but known to exist (within
// aheadSlack of the latest known).
func (t *Twin) aheadLocked(after uint64) bool {
	return t.rep.on && after > t.seq && after>>SeqShift <= t.rep.horizon+aheadSlack
}

// SharedSeq reports whether more than one change may carry seq: a
// replica that runs out of numbers before the next stream sequence gives
// its later changes the last one (see nextSeq), whose low SeqShift bits
// are all ones. Any other Seq is one change's, so a cache keyed by Seq
// must not keep this one. (A twin that is not a replica issues such a
// Seq once in 2^SeqShift; not caching it costs an encoding.)
func SharedSeq(seq uint64) bool { return seq&seqLow == seqLow }

// nextSeq advances t.seq for one change, under t.mu. A replica that ran
// out of numbers before the next stream sequence repeats the last one
// (counted): its subscribers still get the change.
func (t *Twin) nextSeq() {
	if t.rep.on && t.seq&seqLow == seqLow {
		if t.rep.saturated++; t.rep.saturated == 1 {
			t.log.Warn("twin: more local changes between two applied batches than Seq numbers; later ones share one")
		}
		return
	}
	t.seq++
}
