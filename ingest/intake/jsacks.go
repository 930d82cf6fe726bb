package intake

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ponte-city/ponte/internal/backoff"
	"github.com/ponte-city/ponte/wire"
)

// ackPublishTimeout bounds how long one stored gateway ack may wait for
// the cluster's answer before it counts as failed and is sent again.
const ackPublishTimeout = 5 * time.Second

// errAckTimeout is the failure of an ack the cluster did not confirm
// within ackPublishTimeout.
var errAckTimeout = errors.New("no answer from the cluster")

// publishFunc stores one message through JetStream without waiting
// (jetstream.JetStream.PublishMsgAsync).
type publishFunc func(*nats.Msg) (jetstream.PubAckFuture, error)

// ackPublisher stores gateways' acknowledgements in nats-server's MQTT
// message stream (mqttStreamPrefix), from which the server delivers each
// at QoS 1 to the gateway's subscription on its ack topic, on whichever
// node the gateway is connected to. It does so without blocking the
// pipeline (Done must not block), and never loses an ack silently.
//
// Each gateway has at most one ack being stored at a time. Acks that
// come meanwhile wait behind it, and a waiting ack that carries no
// refusals is replaced by the next one of the same epoch: a gateway keeps only its highest
// mark, so under load one replicated store (and one MQTT delivery and
// PUBACK) covers several batches instead of one each. Acks that carry
// refusals (wire.Ack.Refused) are sent each, in order. A store that
// fails (the cluster did not confirm it: a node died, a leader changed,
// the client's pending window is full) is sent again after a backoff
// unless a newer ack of the gateway's epoch waits, which covers it.
//
// publish may be called from any goroutine; it never blocks on the
// network. stop abandons what is still waiting (the gateway resends
// unacknowledged batches, and their replays are acked again).
type ackPublisher struct {
	send publishFunc
	// plain, if set, publishes an ack without storing it (no answer to
	// wait for; JetStreamConfig.AckStored unset).
	plain   func(*nats.Msg) error
	subject func(gateway string) string
	log     *slog.Logger
	// count, if set, is told each outcome: "ok", "error", "coalesced".
	count func(outcome string)
	retry backoff.Policy

	ctx  context.Context
	mu   sync.Mutex
	gws  map[string]*gwAcks // gateways with an ack in flight
	wg   sync.WaitGroup
	stop context.CancelFunc
}

// gwAcks is one gateway's ack in flight and those waiting behind it.
type gwAcks struct {
	waiting  []wire.Ack
	failures int // consecutive failed stores
}

func newAckPublisher(send publishFunc, subject func(string) string, log *slog.Logger, count func(string)) *ackPublisher {
	ctx, stop := context.WithCancel(context.Background())
	if count == nil {
		count = func(string) {}
	}
	return &ackPublisher{send: send, subject: subject, log: log, count: count, ctx: ctx, stop: stop,
		gws:   map[string]*gwAcks{},
		retry: backoff.Policy{Base: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: backoff.Equal}}
}

// publish queues a's store.
func (p *ackPublisher) publish(a wire.Ack) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return
	}
	g := p.gws[a.Gateway]
	if g != nil {
		if n := len(g.waiting); n > 0 && covers(a, g.waiting[n-1]) {
			g.waiting[n-1] = a
			p.count("coalesced")
		} else {
			g.waiting = append(g.waiting, a)
		}
		return
	}
	p.gws[a.Gateway] = &gwAcks{}
	p.wg.Add(1)
	go p.run(a)
}

// covers reports whether the later ack of a gateway tells everything the
// earlier one does: the same epoch (a mark only grows within one), and
// the earlier carries no refusals.
func covers(later, earlier wire.Ack) bool {
	return later.Epoch == earlier.Epoch && len(earlier.Refused) == 0 && earlier.RefusedOmitted == 0
}

// run stores a, then whatever of its gateway waits behind it, until none
// waits.
func (p *ackPublisher) run(a wire.Ack) {
	defer p.wg.Done()
	for {
		err := p.store(a)
		p.mu.Lock()
		g := p.gws[a.Gateway]
		if p.ctx.Err() != nil {
			delete(p.gws, a.Gateway)
			p.mu.Unlock()
			return
		}
		if err == nil {
			p.count("ok")
			g.failures = 0
		} else {
			p.count("error")
			g.failures++
			if !slices.ContainsFunc(g.waiting, func(w wire.Ack) bool { return covers(w, a) }) {
				// Nothing newer covers it: send it again.
				g.waiting = append([]wire.Ack{a}, g.waiting...)
			}
		}
		if len(g.waiting) == 0 {
			delete(p.gws, a.Gateway)
			p.mu.Unlock()
			return
		}
		a, g.waiting = g.waiting[0], g.waiting[1:]
		failures := g.failures
		p.mu.Unlock()
		if err != nil {
			p.log.Warn("gateway ack not stored; sending it again", "gateway", a.Gateway, "epoch", a.Epoch, "seq", a.Seq, "err", err)
			select {
			case <-p.ctx.Done():
				return
			case <-time.After(p.retry.Wait(failures - 1)):
			}
		}
	}
}

// store sends a and waits for the cluster's answer.
func (p *ackPublisher) store(a wire.Ack) error {
	m := nats.NewMsg(p.subject(a.Gateway))
	m.Data = wire.EncodeAck(a)
	if p.plain != nil {
		return p.plain(m)
	}
	m.Header.Set(mqttQoSHeader, "1")
	f, err := p.send(m)
	if err != nil {
		return err
	}
	t := time.NewTimer(ackPublishTimeout)
	defer t.Stop()
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return err
	case <-t.C:
		return errAckTimeout
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

// close abandons the waiting acks and the stores in flight (their
// goroutines return at once) and waits for those goroutines.
func (p *ackPublisher) close() {
	p.mu.Lock() // publish checks ctx and adds to wg under mu
	p.stop()
	p.mu.Unlock()
	p.wg.Wait()
}
