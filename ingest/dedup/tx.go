package dedup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Store is where the per-gateway state lives: FileStore (a directory on
// one machine) or KVStore (a replicated JetStream key-value bucket shared
// by instances on several machines).
//
// Call order: Lock, then any of the Tx's methods, then Commit (zero or
// more times) and Unlock; Mark at any time; Close after the last Tx ended.
type Store interface {
	// Lock loads gateway's state and returns it as a Tx, excluding other
	// goroutines of this process from it until Unlock. FileStore also
	// excludes other processes sharing its Dir; KVStore does not (it
	// detects them at Commit, see ErrConflict).
	Lock(ctx context.Context, gateway string) (Tx, error)
	// Mark returns the acknowledgeable mark of a gateway's epoch (0 if
	// unknown); for tests and status pages.
	Mark(ctx context.Context, gateway string, epoch uint64) (uint64, error)
	// Close releases the store's files or connection.
	Close() error
}

// Tx is a locked gateway state. Its methods must be called from one
// goroutine; Unlock ends it.
type Tx interface {
	// Epoch returns the state of epoch, created empty if new. Changes to
	// it are kept by Commit.
	Epoch(epoch uint64) *Epoch
	// Add records [start, last] of epoch as written, with the gateway's
	// retained seq (see Epoch.Add), and returns the seqs moved over
	// because the gateway declared them dropped.
	Add(epoch, start, last, retained uint64, now time.Time) (dropped uint64)
	// Fits reports whether [start, last] of epoch can be recorded within
	// MaxRanges (see Epoch.Fits).
	Fits(epoch, start, last, retained uint64) bool
	// Release applies the gateway's retained seq of epoch without
	// recording a batch (a replay, or a status message) and returns the
	// seqs moved over.
	Release(epoch, retained uint64, now time.Time) (dropped uint64)
	// Commit stores the state if it changed and returns once it is
	// durable. An error wrapping ErrConflict means another instance
	// changed the state since Lock: nothing was stored, and the caller
	// must Unlock, Lock again and redo its decisions on the new state,
	// never call Commit again. After another error the stored state is
	// the one before, or this one (an answer lost on the way), or one
	// that another instance committed over this one; Commit may be
	// retried, and recognises the last two as its own. (KVStore
	// recognises a commit over its own for its last 64 commits: a
	// conflict after more, or after an instance of an older Ponte
	// committed over it, follows a write that was stored.) A Tx whose
	// Commit succeeded over another's state lacks that state: a further
	// Commit on it returns ErrConflict.
	Commit(ctx context.Context) error
	// Unlock releases the gateway. Uncommitted changes are dropped.
	Unlock()
}

// ErrConflict is returned (wrapped) by Tx.Commit when another instance
// committed the gateway's state after this Tx loaded it (KVStore's
// compare-and-swap failed).
var ErrConflict = errors.New("dedup state changed by another instance")

// limits are the bounds shared by the stores.
type limits struct {
	maxEpochs, maxRanges int
	logger               *slog.Logger
}

// validateLimits checks and defaults MaxEpochs and MaxRanges: the state
// encoding counts epochs and ranges in one byte each.
func validateLimits(maxEpochs, maxRanges *int) error {
	if *maxEpochs < 0 || *maxRanges < 0 {
		return fmt.Errorf("dedup: max_epochs %d, max_ranges %d: expected positive values", *maxEpochs, *maxRanges)
	}
	if *maxEpochs == 0 {
		*maxEpochs = 4
	}
	if *maxRanges == 0 {
		*maxRanges = 32
	}
	if *maxEpochs > 255 || *maxRanges > 254 {
		return fmt.Errorf("dedup: max_epochs %d, max_ranges %d: expected at most 255 and 254", *maxEpochs, *maxRanges)
	}
	return nil
}

// txState is the part of a Tx both stores share: the loaded state and
// the changes made to it.
type txState struct {
	lim   limits
	gw    string
	state Gateway
	dirty bool
}

// Epoch implements Tx.
func (tx *txState) Epoch(epoch uint64) *Epoch {
	e := tx.state[epoch]
	if e == nil {
		e = &Epoch{}
		tx.state[epoch] = e
	}
	return e
}

// Add implements Tx.
func (tx *txState) Add(epoch, start, last, retained uint64, now time.Time) (dropped uint64) {
	tx.dirty = true
	return tx.Epoch(epoch).Add(start, last, retained, now)
}

// Fits implements Tx.
func (tx *txState) Fits(epoch, start, last, retained uint64) bool {
	return tx.Epoch(epoch).Fits(start, last, retained, tx.lim.maxRanges)
}

// Release implements Tx.
func (tx *txState) Release(epoch, retained uint64, now time.Time) (dropped uint64) {
	e := tx.state[epoch]
	if e == nil || retained <= e.Mark+1 {
		return 0
	}
	tx.dirty = true
	return e.Release(retained, now)
}

// prune keeps the MaxEpochs most recently advanced epochs.
func (tx *txState) prune() {
	tx.state.Prune(tx.lim.maxEpochs, func(id uint64, e *Epoch) {
		tx.lim.logger.Info("dedup forgets an old epoch", "gateway", tx.gw, "epoch", id, "mark", e.Mark)
	})
}

// markOf returns the mark of epoch in g (0 if unknown).
func markOf(g Gateway, epoch uint64) uint64 {
	if e := g[epoch]; e != nil {
		return e.Mark
	}
	return 0
}
