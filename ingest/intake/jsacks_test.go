package intake

import (
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// fakeFuture is a store the test answers by hand.
type fakeFuture struct {
	msg  *nats.Msg
	ok   chan *jetstream.PubAck
	errc chan error
}

func (f *fakeFuture) Ok() <-chan *jetstream.PubAck { return f.ok }
func (f *fakeFuture) Err() <-chan error            { return f.errc }
func (f *fakeFuture) Msg() *nats.Msg               { return f.msg }

// fakeCluster records the stores sent to it, unanswered until the test
// answers them.
type fakeCluster struct {
	mu     sync.Mutex
	sent   []*fakeFuture
	counts map[string]int
}

func (c *fakeCluster) send(m *nats.Msg) (jetstream.PubAckFuture, error) {
	f := &fakeFuture{msg: m, ok: make(chan *jetstream.PubAck, 1), errc: make(chan error, 1)}
	c.mu.Lock()
	c.sent = append(c.sent, f)
	c.mu.Unlock()
	return f, nil
}

func (c *fakeCluster) count(outcome string) {
	c.mu.Lock()
	c.counts[outcome]++
	c.mu.Unlock()
}

// waitSent waits until n stores were sent and returns the nth's ack.
func (c *fakeCluster) waitSent(t *testing.T, n int) (*fakeFuture, wire.Ack) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, "store sent", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.sent) >= n
	})
	c.mu.Lock()
	f := c.sent[n-1]
	c.mu.Unlock()
	a, err := wire.DecodeAck(f.msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if f.msg.Header.Get(mqttQoSHeader) != "1" || f.msg.Subject != "acks."+a.Gateway {
		t.Fatalf("store on %s with %s %q", f.msg.Subject, mqttQoSHeader, f.msg.Header.Get(mqttQoSHeader))
	}
	return f, a
}

func (c *fakeCluster) sentCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sent)
}

// TestAckPublisher: one store per gateway at a time; acks waiting behind
// it are replaced by newer ones unless they carry refusals; a failed
// store is sent again unless a newer ack covers it.
func TestAckPublisher(t *testing.T) {
	c := &fakeCluster{counts: map[string]int{}}
	p := newAckPublisher(c.send, func(gw string) string { return "acks." + gw }, slog.New(slog.DiscardHandler), c.count)
	p.retry.Base, p.retry.Max = time.Millisecond, time.Millisecond
	defer p.close()
	ack := func(seq uint64) wire.Ack { return wire.Ack{Gateway: "gw1", Epoch: 7, Seq: seq} }

	p.publish(ack(100))
	f, a := c.waitSent(t, 1)
	if a.Seq != 100 {
		t.Fatalf("first store %+v", a)
	}
	// While it is in flight: 200 is replaced by 300, 300 by 400 (which
	// carries refusals), and 500 queues behind 400.
	p.publish(ack(200))
	p.publish(ack(300))
	refused := ack(400)
	refused.Refused = []wire.Refused{{Device: "d1", Count: 1}}
	p.publish(refused)
	p.publish(ack(500))
	p.publish(wire.Ack{Gateway: "gw2", Epoch: 1, Seq: 9}) // another gateway is not held up
	if _, other := c.waitSent(t, 2); other.Gateway != "gw2" {
		t.Fatalf("second store %+v; want gw2's", other)
	}
	if got := c.sentCount(); got != 2 {
		t.Fatalf("%d stores sent while gw1's first is unanswered; want 2", got)
	}

	f.errc <- errors.New("leader changed (test)")
	// Failed, and 400 (same epoch) waits: it covers 100, which is not
	// sent again.
	f, a = c.waitSent(t, 3)
	if a.Seq != 400 || len(a.Refused) != 1 {
		t.Fatalf("after the failure sent %+v; want seq 400 with its refusal (covers 100)", a)
	}
	f.errc <- errors.New("no responders (test)")
	// 400 carries refusals: sent again before 500.
	f, a = c.waitSent(t, 4)
	if a.Seq != 400 || len(a.Refused) != 1 {
		t.Fatalf("after the failure sent %+v; want seq 400 again", a)
	}
	f.ok <- &jetstream.PubAck{}
	f, a = c.waitSent(t, 5)
	if a.Seq != 500 {
		t.Fatalf("sent %+v; want seq 500", a)
	}
	f.errc <- errors.New("timeout (test)")
	// Only an ack of a new epoch waits, which does not cover 500: 500 is
	// sent again, then the new epoch's.
	p.publish(wire.Ack{Gateway: "gw1", Epoch: 8, Seq: 1})
	f, a = c.waitSent(t, 6)
	if a.Epoch != 7 || a.Seq != 500 {
		t.Fatalf("after the failure sent %+v; want epoch 7 seq 500 again", a)
	}
	f.ok <- &jetstream.PubAck{}
	f, a = c.waitSent(t, 7)
	if a.Epoch != 8 || a.Seq != 1 {
		t.Fatalf("sent %+v; want epoch 8 seq 1", a)
	}
	f.ok <- &jetstream.PubAck{}
	testenv.Eventually(t, 10*time.Second, "gw1 idle", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.gws["gw1"] == nil
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts["coalesced"] != 2 || c.counts["error"] != 3 || c.counts["ok"] != 3 {
		t.Errorf("outcomes %v; want 2 coalesced, 3 errors, 3 ok (gw2's unanswered)", c.counts)
	}
}
