package mqtt

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/wire"
)

// fakeCommit is a Commit the test resolves when it likes. waiting is
// closed once someone waits on it.
type fakeCommit struct {
	done    chan struct{}
	err     error
	waiting chan struct{}
	once    sync.Once
}

func newFakeCommit() *fakeCommit {
	return &fakeCommit{done: make(chan struct{}), waiting: make(chan struct{})}
}

func (c *fakeCommit) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.done
}
func (c *fakeCommit) Err() error { return c.err }

// resolve makes the commit durable (nil) or failed.
func (c *fakeCommit) resolve(err error) {
	c.err = err
	close(c.done)
}

// fakeMessage is a paho.Message that counts its acknowledgements.
type fakeMessage struct {
	paho.Message // only the methods below are called
	acks         atomic.Int32
}

func (m *fakeMessage) Topic() string     { return "application/a/device/x/event/up" }
func (m *fakeMessage) MessageID() uint16 { return 7 }
func (m *fakeMessage) Ack()              { m.acks.Add(1) }

// fakeEmitter hands out the commits a test queued, one per emit, and
// counts emits.
type fakeEmitter struct {
	mu      sync.Mutex
	commits []*fakeCommit
	emits   int
	emitted chan struct{} // receives one value per emit
}

func newFakeEmitter(commits ...*fakeCommit) *fakeEmitter {
	return &fakeEmitter{commits: commits, emitted: make(chan struct{}, 16)}
}

func (e *fakeEmitter) emit([]wire.Reading) source.Commit {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.commits[e.emits]
	e.emits++
	e.emitted <- struct{}{}
	return c
}

// deliverAsync runs deliver in a goroutine; the returned channel is closed
// when it returned.
func deliverAsync(ctx context.Context, out *emitter, msg *fakeMessage) <-chan struct{} {
	b := &broker{addr: brokerAddr{display: "test"}, m: NewMetrics(nil), log: slog.New(slog.DiscardHandler)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		deliver(ctx, b, out, msg, []wire.Reading{{Device: "x", Point: "p", Value: wire.Int(1)}}, b.log)
	}()
	return done
}

// wait fails the test unless ch delivers (or closes) within a bound that
// only a hang reaches, and returns what it delivered.
func wait[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not within 10s", what)
	}
	panic("unreachable")
}

// TestAckOnlyAfterCommit: the message is acknowledged after its readings'
// Commit is durable, not at emit; a failed Commit is not acknowledged and
// the readings are emitted again, acknowledged once a retry is durable;
// a source stopping before the Commit resolves acknowledges nothing.
func TestAckOnlyAfterCommit(t *testing.T) {
	t.Run("durable", func(t *testing.T) {
		c := newFakeCommit()
		e := newFakeEmitter(c)
		msg := &fakeMessage{}
		done := deliverAsync(context.Background(), &emitter{emit: e.emit}, msg)
		wait(t, "deliver to wait on the commit", c.waiting)
		if n := msg.acks.Load(); n != 0 {
			t.Fatalf("acknowledged %d times before the commit was durable", n)
		}
		c.resolve(nil)
		wait(t, "deliver to return", done)
		if n := msg.acks.Load(); n != 1 {
			t.Fatalf("acknowledged %d times after a durable commit, want 1", n)
		}
	})
	t.Run("failed then durable", func(t *testing.T) {
		c1, c2 := newFakeCommit(), newFakeCommit()
		e := newFakeEmitter(c1, c2)
		msg := &fakeMessage{}
		done := deliverAsync(context.Background(), &emitter{emit: e.emit}, msg)
		wait(t, "first emit", e.emitted)
		c1.resolve(errors.New("records dropped from memory before they were durable"))
		wait(t, "the readings emitted again", e.emitted)
		if n := msg.acks.Load(); n != 0 {
			t.Fatalf("acknowledged %d times after a failed commit", n)
		}
		c2.resolve(nil)
		wait(t, "deliver to return", done)
		if n := msg.acks.Load(); n != 1 {
			t.Fatalf("acknowledged %d times after the retry was durable, want 1", n)
		}
	})
	t.Run("failed then stopped", func(t *testing.T) {
		c := newFakeCommit()
		e := newFakeEmitter(c)
		msg := &fakeMessage{}
		ctx, cancel := context.WithCancel(context.Background())
		done := deliverAsync(ctx, &emitter{emit: e.emit}, msg)
		wait(t, "emit", e.emitted)
		c.resolve(errors.New("buffer closed"))
		cancel()
		wait(t, "deliver to return", done)
		if n := msg.acks.Load(); n != 0 {
			t.Fatalf("acknowledged %d times though the commit failed", n)
		}
	})
	t.Run("stopped before commit", func(t *testing.T) {
		c := newFakeCommit()
		e := newFakeEmitter(c)
		msg := &fakeMessage{}
		ctx, cancel := context.WithCancel(context.Background())
		done := deliverAsync(ctx, &emitter{emit: e.emit}, msg)
		wait(t, "emit", e.emitted)
		cancel()
		wait(t, "deliver to return", done)
		c.resolve(nil) // durable after all, too late: the broker sends it again
		if n := msg.acks.Load(); n != 0 {
			t.Fatalf("acknowledged %d times though the source stopped before the commit", n)
		}
	})
	t.Run("source stopped", func(t *testing.T) {
		e := newFakeEmitter()
		msg := &fakeMessage{}
		out := &emitter{emit: e.emit}
		out.close()
		wait(t, "deliver to return", deliverAsync(context.Background(), out, msg))
		if msg.acks.Load() != 0 || e.emits != 0 {
			t.Fatalf("after Run returned: %d acks, %d emits; want none", msg.acks.Load(), e.emits)
		}
	})
}
