package source

import (
	"context"
	"fmt"
)

// Commit is what an Emitter returns: the handle that says when the
// readings it was given are durable. The agent's emitter returns the edge
// buffer's group-commit handle, resolved by the next fsync (at most the
// buffer's SyncInterval, 100 ms by default, after the emit).
//
// A Commit may be waited on from any goroutine, any number of times;
// waiting never holds up the emitter or other sources.
//
// A source acknowledges its device (an MQTT PUBACK, a protocol ACK, a
// "delete from device memory" command) only after Err returned nil. Any
// non-nil error means the readings may not survive a crash: the source
// must not acknowledge, so that the device or its broker sends them
// again. From the agent's buffer the errors are (errors.Is targets in
// edge/buffer):
//   - ErrNotDurable: the disk is failing; the readings are held in memory,
//     written if the disk recovers and lost if the agent stops first.
//   - ErrDropped: the buffer's memory bound (MemoryRecords) dropped some of
//     them before they reached the disk (the buffer is full).
//   - ErrClosed: the buffer was closed (the agent is stopping); nothing of
//     the emit was kept.
//   - ErrTooLarge: a reading encodes over the buffer's record limit;
//     nothing of the emit was kept.
//
// Polled devices have nothing to acknowledge: their sources ignore the
// Commit and must not hold up their polls on it.
type Commit interface {
	// Done is closed once the readings are durable or have failed to
	// become so.
	Done() <-chan struct{}
	// Err, called only after Done is closed, is nil when the readings are
	// durable and says why not otherwise.
	Err() error
}

// Wait blocks until c is resolved and returns its Err, or until ctx ends
// and returns an error wrapping ctx.Err() (the readings' fate is then
// unknown, so the caller must not acknowledge them either).
func Wait(ctx context.Context, c Commit) error {
	select {
	case <-c.Done():
		return c.Err()
	case <-ctx.Done():
		return fmt.Errorf("wait for readings to be durable: %w", ctx.Err())
	}
}

// Resolved returns a Commit already resolved with err: nil for an emit
// that had nothing to make durable, the failure for one refused at once.
func Resolved(err error) Commit {
	done := make(chan struct{})
	close(done)
	return resolved{done: done, err: err}
}

// resolved is a Commit known at emit time.
type resolved struct {
	done chan struct{}
	err  error
}

func (r resolved) Done() <-chan struct{} { return r.done }
func (r resolved) Err() error            { return r.err }
